"""The work queue: claims inventory, stored findings, tasks for billers and operators, night planning."""
