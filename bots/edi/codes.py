"""X12 code meanings the reader needs: 835 CLP02 claim status codes and BPR04 payment methods."""

from __future__ import annotations

# 835 CLP02 Claim Status Code (X221A1): short standard meanings
CLAIM_STATUS = {
    "1": "processed as primary",
    "2": "processed as secondary",
    "3": "processed as tertiary",
    "4": "denied",
    "19": "processed as primary, forwarded to additional payer(s)",
    "20": "processed as secondary, forwarded to additional payer(s)",
    "21": "processed as tertiary, forwarded to additional payer(s)",
    "22": "reversal of previous payment",
    "23": "not our claim, forwarded to additional payer(s)",
    "25": "predetermination pricing only - no payment",
}
#: CLP02 codes that mean "adjudicated": F1 (paid) or F4 (no payment forthcoming) depending on CLP04
PROCESSED = {"1", "2", "3", "19", "20", "21"}
#: the other CLP02 codes -> 277 claim status category
CATEGORY = {"4": "F2", "22": "F3", "23": "F4", "25": "F4"}

# 835 BPR04 Payment Method Code -> the finding's payment_method (bots.findings.PAYMENT_METHODS spelling)
PAYMENT_METHOD = {"ACH": "EFT", "CHK": "CHK", "NON": None, "BOP": "BOP", "FWT": "FWT"}
