/* Northwind Mutual provider portal (sandbox): a vanilla single-page app, no build step.
 *
 * Everything is rendered here from the JSON API under ./api/. Hash routes:
 *   #/login  #/code  #/claims  #/claims/<icn>  #/documents[?since=YYYY-MM-DD]  #/authorizations[/<number>]
 * Layout 2 (the "redesign") renames every data-testid and moves the navigation into a sidebar.
 */
(function () {
  'use strict';

  var app = {config: null, me: null, sentTo: null, idleTimer: null, renderSeq: 0};
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  function Halt() {}  // thrown to stop a render after the API redirected to login or maintenance

  // -- helpers ---------------------------------------------------------------------------------------
  function tid(name) {
    // The redesign ships a new component library: every test id changes.
    if (app.config && app.config.layout === 2) return 'nw2-' + name.split('-').reverse().join('__');
    return name;
  }

  function h(tag, attrs) {
    var el = document.createElement(tag);
    var props = attrs || {};
    Object.keys(props).forEach(function (key) {
      var value = props[key];
      if (value === null || value === undefined || value === false) return;
      if (key === 'testid') el.setAttribute('data-testid', tid(value));
      else if (key === 'class') el.className = value;
      else if (key.slice(0, 2) === 'on') el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : value);
    });
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }

  function money(value) {
    if (value === null || value === undefined) return '\u2014';
    var n = Number(value);
    var text = Math.abs(n).toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return (n < 0 ? '-$' : '$') + text;
  }

  function day(iso) {
    if (!iso) return '\u2014';
    var p = iso.split('-');
    return MONTHS[Number(p[1]) - 1] + ' ' + Number(p[2]) + ', ' + p[0];
  }

  function go(hash) {
    if (location.hash === hash) render(); else location.hash = hash;
  }

  function route() {
    var raw = location.hash.replace(/^#/, '') || '/';
    var q = raw.indexOf('?');
    var path = q >= 0 ? raw.slice(0, q) : raw;
    var params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
    return {parts: path.split('/').filter(Boolean), params: params};
  }

  function root() { return document.getElementById('root'); }

  function mount(node) {
    var r = root();
    r.innerHTML = '';
    r.appendChild(node);
  }

  async function api(path, options) {
    var opts = options || {};
    var init = {method: opts.method || 'GET', credentials: 'same-origin', headers: {'Accept': 'application/json'}};
    if (opts.body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    var res;
    try { res = await fetch('api/' + path, init); } catch (e) { showServerError(0); throw new Halt(); }
    var body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (res.status >= 500) {
      // The maintenance answer says so in its body; any other 5xx is a server error page.
      if (body && body.maintenance) showMaintenance(); else showServerError(res.status);
      throw new Halt();
    }
    if (res.status === 401 && path.indexOf('auth/') !== 0) {
      // The session ended (idle expiry on the server): back to the sign-in screen.
      signedOut();
      go('#/login');
      throw new Halt();
    }
    return {status: res.status, ok: res.ok, body: body || {}};
  }

  // -- idle timer and the session-timeout modal ------------------------------------------------------------
  function startIdleTimer() {
    clearTimeout(app.idleTimer);
    if (!app.me || !app.config) return;
    app.idleTimer = setTimeout(showIdleModal, app.config.idle_warning_seconds * 1000);
  }

  function showIdleModal() {
    if (document.querySelector('.overlay')) return;
    var overlay = h('div', {class: 'overlay', testid: 'session-timeout-modal', role: 'dialog', 'aria-modal': 'true'},
      h('div', {class: 'dialog'},
        h('p', {testid: 'session-timeout-text'}, 'Your session is about to expire.'),
        h('button', {type: 'button', testid: 'stay-signed-in', onclick: staySignedIn}, 'Stay signed in')));
    document.body.appendChild(overlay);
  }

  async function staySignedIn() {
    var overlay = document.querySelector('.overlay');
    if (overlay) overlay.remove();
    try { await api('auth/keepalive', {method: 'POST'}); } catch (e) { return; }
    startIdleTimer();
  }

  function signedOut() {
    app.me = null;
    clearTimeout(app.idleTimer);
    var overlay = document.querySelector('.overlay');
    if (overlay) overlay.remove();
  }

  function showServerError(status) {
    signedOut();
    // Not part of the redesign: the error banner keeps its test id in every layout.
    var banner = h('div', {class: 'banner', role: 'alert'},
      'Something went wrong on our side (' + (status || 'network error') + '). Please try again.');
    banner.setAttribute('data-testid', 'server-error');
    mount(banner);
  }

  function showMaintenance() {
    signedOut();
    mount(h('div', {class: 'banner', testid: 'maintenance', role: 'alert'},
      "We're doing some maintenance. Please try again later."));
  }

  // -- page chrome ---------------------------------------------------------------------------------------
  function chrome(active, content) {
    var links = [['claims', 'Claims'], ['documents', 'Documents'], ['authorizations', 'Authorizations']];
    var nav = h('nav', {testid: 'nav', 'aria-label': 'Main'},
      links.map(function (l) {
        return h('a', {href: '#/' + l[0], testid: 'nav-' + l[0], class: active === l[0] ? 'active' : null}, l[1]);
      }),
      h('span', {class: 'muted', testid: 'nav-user'}, app.me.email), ' ',
      h('button', {type: 'button', class: 'secondary', testid: 'sign-out', onclick: signOut}, 'Sign out'));
    var main = h('main', {testid: 'main'}, content);
    if (app.config.layout === 2) {
      return h('div', {class: 'sidebar-layout'}, h('aside', {}, h('div', {class: 'brand'}, 'Northwind'), nav), main);
    }
    return h('div', {}, h('header', {class: 'topbar'}, h('span', {class: 'brand'}, app.config.payer_name), nav), main);
  }

  async function signOut() {
    try { await api('auth/logout', {method: 'POST'}); } catch (e) { /* already gone */ }
    signedOut();
    go('#/login');
  }

  // -- sign in -------------------------------------------------------------------------------------------
  function loginView() {
    var error = h('p', {class: 'alert', testid: 'login-error', role: 'alert', hidden: true});
    var captcha = h('div', {class: 'card', testid: 'login-captcha', hidden: true},
      h('p', {}, "Please confirm you're not a robot."), h('input', {name: 'captcha', autocomplete: 'off'}));
    var email = h('input', {type: 'email', id: 'email', name: 'email', autocomplete: 'username', testid: 'login-email'});
    var password = h('input', {type: 'password', id: 'password', name: 'password', autocomplete: 'current-password',
      testid: 'login-password'});
    var submit = h('button', {type: 'submit', testid: 'login-submit'}, 'Sign in');
    var form = h('form', {class: 'stack card', testid: 'login-form', onsubmit: async function (ev) {
      ev.preventDefault();
      error.hidden = true;
      submit.disabled = true;
      try {
        var res = await api('auth/login', {method: 'POST', body: {email: email.value, password: password.value}});
        if (res.ok && res.body.next === 'sso') { ssoView(); return; }
        if (res.ok) { app.sentTo = res.body.sent_to; go('#/code'); return; }
        if (res.body.captcha) { captcha.hidden = false; return; }
        error.textContent = res.body.error || 'Something went wrong.';
        error.hidden = false;
      } catch (e) { if (!(e instanceof Halt)) throw e; } finally { submit.disabled = false; }
    }},
    h('h1', {}, 'Sign in to Northwind Mutual'), error, captcha,
    h('label', {for: 'email'}, 'Email'), email, h('label', {for: 'password'}, 'Password'), password,
    h('p', {}, submit));
    mount(h('main', {testid: 'login-page'}, form));
  }

  function ssoView() {
    // login_layout 2: the new single sign-on step after the password, with test ids no adapter knows yet.
    mount(h('main', {testid: 'sso-page'}, h('form', {class: 'stack card', testid: 'sso-verify-form'},
      h('h1', {}, 'Northwind Mutual single sign-on'),
      h('p', {}, 'Choose how you want to verify it is you.'),
      h('button', {type: 'button', testid: 'sso-method-email'}, 'Email me a link'),
      h('button', {type: 'button', testid: 'sso-method-app'}, 'Use the Northwind app'))));
  }

  function codeView() {
    if (!app.sentTo) { go('#/login'); return; }
    var error = h('p', {class: 'alert', testid: 'code-error', role: 'alert', hidden: true});
    var code = h('input', {id: 'code', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code',
      maxlength: '6', testid: 'code-input'});
    var form = h('form', {class: 'stack card', testid: 'code-form', onsubmit: async function (ev) {
      ev.preventDefault();
      error.hidden = true;
      try {
        var res = await api('auth/verify', {method: 'POST', body: {code: code.value}});
        if (res.ok) {
          app.me = (await api('me')).body;
          app.sentTo = null;
          startIdleTimer();
          go('#/claims');
          return;
        }
        error.textContent = res.body.error || 'Something went wrong.';
        error.hidden = false;
      } catch (e) { if (!(e instanceof Halt)) throw e; }
    }},
    h('h1', {}, 'Check your email'),
    h('p', {testid: 'code-prompt'}, 'Enter the code we sent to ' + app.sentTo), error,
    h('label', {for: 'code'}, '6-digit code'), code,
    h('p', {}, h('button', {type: 'submit', testid: 'code-submit'}, 'Verify')));
    mount(h('main', {testid: 'code-page'}, form));
  }

  // -- claims ---------------------------------------------------------------------------------------------
  function claimCard(c) {
    var open = h('a', {href: '#/claims/' + encodeURIComponent(c.claim_number), testid: 'claim-card-open'}, 'View claim');
    if (app.config.layout === 2) {
      return h('tr', {testid: 'claim-card'},
        h('td', {testid: 'claim-card-icn'}, c.claim_number), h('td', {testid: 'claim-card-account'}, c.patient_account),
        h('td', {}, c.patient), h('td', {}, day(c.date_of_service)), h('td', {}, money(c.billed)),
        h('td', {}, h('span', {class: 'chip'}, c.status)), h('td', {}, open));
    }
    return h('article', {class: 'card', testid: 'claim-card'},
      h('dl', {class: 'facts'},
        h('dt', {}, 'Claim number'), h('dd', {testid: 'claim-card-icn'}, c.claim_number),
        h('dt', {}, 'Patient account'), h('dd', {testid: 'claim-card-account'}, c.patient_account),
        h('dt', {}, 'Patient'), h('dd', {testid: 'claim-card-patient'}, c.patient),
        h('dt', {}, 'Date of service'), h('dd', {testid: 'claim-card-dos'}, day(c.date_of_service)),
        h('dt', {}, 'Billed'), h('dd', {testid: 'claim-card-billed'}, money(c.billed)),
        h('dt', {}, 'Status'), h('dd', {}, h('span', {class: 'chip', testid: 'claim-card-status'}, c.status))),
      open);
  }

  function claimsView(seq) {
    var member = h('input', {id: 'member', name: 'member_id', testid: 'search-member-id'});
    var dos = h('input', {id: 'dos', name: 'dos', type: 'date', testid: 'search-dos'});
    var number = h('input', {id: 'claimno', name: 'claim_number', testid: 'search-claim-number'});
    var results = h('section', {testid: 'search-area', 'aria-live': 'polite'});
    var query = null;

    async function loadPage(offset, list, more) {
      var params = new URLSearchParams(query);
      params.set('offset', String(offset));
      params.set('limit', '5');
      var res = await api('claims?' + params.toString());
      if (seq !== app.renderSeq) return null;
      if (!res.ok) {
        results.innerHTML = '';
        append(results, h('p', {class: 'alert', testid: 'search-error', role: 'alert'}, res.body.error || 'Search failed.'));
        return null;
      }
      res.body.results.forEach(function (c) { list.appendChild(claimCard(c)); });
      more.hidden = !res.body.has_more;
      return res.body;
    }

    async function search(ev) {
      ev.preventDefault();
      // Clear the previous answer at once, so nobody reads stale results while the new ones load.
      results.innerHTML = '';
      append(results, h('p', {class: 'muted', testid: 'searching'}, 'Searching\u2026'));
      query = number.value.trim() ? {claim_number: number.value.trim()} : {member_id: member.value.trim(), dos: dos.value};
      var list = app.config.layout === 2 ? h('table', {testid: 'claim-results-list'}) : h('div', {testid: 'claim-results-list'});
      var offset = 0;
      var more = h('button', {type: 'button', class: 'secondary', testid: 'load-more', hidden: true, onclick: async function () {
        more.disabled = true;
        try {
          var body = await loadPage(offset, list, more);
          if (body) offset += body.results.length;
        } catch (e) { if (!(e instanceof Halt)) throw e; } finally { more.disabled = false; }
      }}, 'Load more');
      try {
        var body = await loadPage(0, list, more);
        if (!body) return;
        offset = body.results.length;
        results.innerHTML = '';
        var ref = h('p', {class: 'muted', testid: 'search-reference'}, 'Reference ID: ' + body.reference_id);
        if (body.total === 0) {
          append(results, h('div', {class: 'card', testid: 'no-results'},
            h('p', {testid: 'no-results-text'}, "We couldn't find any claims that match."), ref));
          return;
        }
        append(results, h('div', {testid: 'claim-results'},
          h('p', {testid: 'results-count'}, body.total + (body.total === 1 ? ' claim' : ' claims')), ref, list, more));
      } catch (e) { if (!(e instanceof Halt)) throw e; }
    }

    return chrome('claims', [
      h('h1', {}, 'Claim status'),
      h('form', {class: 'stack card', testid: 'claims-search-form', onsubmit: search},
        h('label', {for: 'member'}, 'Member ID'), member,
        h('label', {for: 'dos'}, 'Date of service'), dos,
        h('p', {class: 'muted'}, 'or'),
        h('label', {for: 'claimno'}, 'Claim number'), number,
        h('p', {}, h('button', {type: 'submit', testid: 'search-submit'}, 'Search'))),
      results]);
  }

  async function claimDetailView(seq, icn) {
    var res = await api('claims/' + encodeURIComponent(icn));
    if (seq !== app.renderSeq) return null;
    if (!res.ok) {
      return chrome('claims', h('div', {class: 'card', testid: 'claim-not-found'}, res.body.error || 'Not found.'));
    }
    var c = res.body;
    var facts = [
      ['Claim number', 'claim-detail-icn', c.claim_number],
      ['Patient account', 'claim-detail-account', c.patient_account],
      ['Patient', 'claim-detail-patient', c.patient + ' (' + c.member_id + ')'],
      ['Provider', 'claim-detail-provider', c.provider],
      ['Date of service', 'claim-detail-dos', day(c.date_of_service)],
      ['Submitted', 'claim-detail-submitted', day(c.submitted_date)],
      ['Processed', 'claim-processed-date', day(c.processed_date)],
      ['Billed', 'claim-billed', money(c.billed)],
      ['Allowed', 'claim-allowed', money(c.allowed)],
      ['Paid', 'claim-paid', money(c.paid)],
      ['Member responsibility', 'claim-patient-resp', money(c.patient_responsibility)]];
    var dl = h('dl', {class: 'facts', testid: 'claim-facts'});
    facts.forEach(function (f) { append(dl, [h('dt', {}, f[0]), h('dd', {testid: f[1]}, f[2])]); });
    var payment = null;
    if (c.payment) {
      var eft = c.payment.method === 'EFT';
      payment = h('section', {class: 'card', testid: 'payment'},
        h('h2', {}, 'Payment'),
        h('dl', {class: 'facts'},
          h('dt', {}, 'Method'), h('dd', {testid: 'payment-method'}, eft ? 'Electronic funds transfer' : 'Paper check'),
          h('dt', {testid: 'payment-reference-label'}, eft ? 'EFT trace number' : 'Check number'),
          h('dd', {testid: 'payment-reference'}, c.payment.reference),
          h('dt', {}, 'Payment date'), h('dd', {testid: 'payment-date'}, day(c.payment.date))));
    }
    var lines = h('table', {testid: 'service-lines'},
      h('thead', {}, h('tr', {}, ['#', 'Code', 'Date', 'Units', 'Billed', 'Allowed', 'Paid', 'Member owes',
        'Adjustments', 'Remarks'].map(function (t) { return h('th', {}, t); }))),
      h('tbody', {}, c.lines.map(function (l) {
        return h('tr', {testid: 'service-line'},
          h('td', {testid: 'line-number'}, l.line_number), h('td', {testid: 'line-code'}, l.procedure_code),
          h('td', {testid: 'line-dos'}, day(l.date_of_service)), h('td', {testid: 'line-units'}, l.units),
          h('td', {testid: 'line-billed'}, money(l.billed)), h('td', {testid: 'line-allowed'}, money(l.allowed)),
          h('td', {testid: 'line-paid'}, money(l.paid)), h('td', {testid: 'line-patient-resp'}, money(l.patient_responsibility)),
          h('td', {}, h('ul', {testid: 'line-adjustments'}, l.adjustments.map(function (a) {
            return h('li', {testid: 'line-adjustment'}, h('span', {testid: 'adj-group'}, a.group), '-',
              h('span', {testid: 'adj-reason'}, a.reason), ' ', h('span', {testid: 'adj-amount'}, money(a.amount)));
          }))),
          h('td', {}, l.remarks.map(function (r) { return h('span', {class: 'chip', testid: 'line-remark'}, r); })));
      })));
    return chrome('claims', h('div', {testid: 'claim-detail'},
      h('p', {}, h('a', {href: '#/claims', testid: 'back-to-search'}, '\u2190 New search')),
      h('h1', {}, 'Claim ', c.claim_number),
      h('p', {}, h('span', {class: 'chip', testid: 'claim-status'}, c.status)),
      h('p', {testid: 'claim-status-description'}, c.status_description),
      c.pending_reason ? h('p', {class: 'alert', testid: 'claim-pending-reason'}, c.pending_reason) : null,
      c.cob_forwarded_to ? h('p', {testid: 'claim-cob'}, 'Coordination of benefits: forwarded to ' + c.cob_forwarded_to) : null,
      h('section', {class: 'card'}, dl), payment, h('section', {class: 'card'}, h('h2', {}, 'Service lines'), lines)));
  }

  // -- documents ------------------------------------------------------------------------------------------
  function documentsView(seq, params) {
    var since = params.get('since') || '';
    var sinceInput = h('input', {type: 'date', id: 'since', testid: 'documents-since', value: since});
    var rows = h('tbody', {});
    var area = h('section', {testid: 'documents-area'}, h('p', {class: 'muted', testid: 'loading'}, 'Loading\u2026'));
    var offset = 0;
    var more = h('button', {type: 'button', class: 'secondary', testid: 'load-more', hidden: true, onclick: function () {
      loadMore().catch(function (e) { if (!(e instanceof Halt)) throw e; });
    }}, 'Load more');

    async function loadMore() {
      more.disabled = true;
      var q = new URLSearchParams({offset: String(offset), limit: '10'});
      if (since) q.set('since', since);
      var res = await api('documents?' + q.toString());
      more.disabled = false;
      if (seq !== app.renderSeq) return;
      if (!res.ok) {
        area.innerHTML = '';
        append(area, h('p', {class: 'alert', testid: 'documents-error'}, res.body.error || 'Failed.'));
        return;
      }
      var first = offset === 0;
      res.body.documents.forEach(function (d) {
        rows.appendChild(h('tr', {testid: 'document-row'},
          h('td', {testid: 'document-date'}, day(d.date)), h('td', {testid: 'document-title'}, d.title),
          h('td', {testid: 'document-kind'}, d.kind), h('td', {testid: 'document-id'}, d.id),
          h('td', {testid: 'document-file-name'}, d.file_name),
          h('td', {}, h('a', {class: 'button', href: 'api/documents/' + encodeURIComponent(d.id) + '/file',
            download: true, testid: 'document-download'}, 'Download'))));
      });
      offset += res.body.documents.length;
      more.hidden = !res.body.has_more;
      if (first) {
        area.innerHTML = '';
        if (res.body.total === 0) {
          append(area, h('p', {class: 'card', testid: 'documents-empty'}, 'No documents in this period.'));
        } else {
          append(area, h('div', {testid: 'documents-list'}, h('p', {testid: 'documents-count'}, res.body.total + ' documents'),
            h('table', {}, h('thead', {}, h('tr', {}, ['Date', 'Title', 'Type', 'Document ID', 'File', ''].map(function (t) {
              return h('th', {}, t);
            }))), rows), more));
        }
      }
    }

    loadMore().catch(function (e) { if (!(e instanceof Halt)) throw e; });
    return chrome('documents', [
      h('h1', {}, 'Documents'),
      h('form', {class: 'card', testid: 'documents-filter', onsubmit: function (ev) {
        ev.preventDefault();
        go(sinceInput.value ? '#/documents?since=' + sinceInput.value : '#/documents');
      }}, h('label', {for: 'since'}, 'Received since '), sinceInput, ' ',
      h('button', {type: 'submit', testid: 'documents-apply'}, 'Apply')),
      area]);
  }

  // -- authorizations --------------------------------------------------------------------------------------------
  async function authorizationsView(seq, number) {
    if (number) {
      var one = await api('authorizations/' + encodeURIComponent(number));
      if (seq !== app.renderSeq) return null;
      if (!one.ok) return chrome('authorizations', h('div', {class: 'card', testid: 'auth-not-found'}, one.body.error));
      var a = one.body;
      var facts = [['Authorization', 'auth-number', a.auth_number], ['Status', 'auth-status', a.status],
        ['Member', 'auth-member', a.member_id], ['Patient', 'auth-member-name', a.member_name],
        ['Service', 'auth-service', a.service], ['Codes', 'auth-codes', a.procedure_codes.join(', ')],
        ['Provider', 'auth-provider', a.provider], ['Facility', 'auth-facility', a.facility],
        ['Units approved', 'auth-approved-units', a.approved_units], ['Units used', 'auth-used-units', a.used_units],
        ['Valid from', 'auth-start', day(a.start_date)], ['Valid to', 'auth-end', day(a.end_date)],
        ['Requested', 'auth-requested', day(a.requested_date)], ['Decided', 'auth-decided', day(a.decision_date)]];
      var dl = h('dl', {class: 'facts card', testid: 'auth-detail'});
      facts.forEach(function (f) { append(dl, [h('dt', {}, f[0]), h('dd', {testid: f[1]}, String(f[2]))]); });
      return chrome('authorizations', [h('p', {}, h('a', {href: '#/authorizations', testid: 'back-to-auths'}, '\u2190 All')), dl]);
    }
    var res = await api('authorizations');
    if (seq !== app.renderSeq) return null;
    var list = res.body.authorizations || [];
    if (list.length === 0) return chrome('authorizations', h('p', {class: 'card', testid: 'auths-empty'}, 'No authorizations.'));
    var cols = ['Authorization', 'Member', 'Service', 'Codes', 'Provider', 'Facility', 'Status', 'Approved', 'Used',
      'Valid from', 'Valid to', 'Requested', 'Decided'];
    return chrome('authorizations', [h('h1', {}, 'Authorizations'), h('table', {testid: 'auths-table'},
      h('thead', {}, h('tr', {}, cols.map(function (t) { return h('th', {}, t); }))),
      h('tbody', {}, list.map(function (x) {
        return h('tr', {testid: 'auth-row'},
          h('td', {}, h('a', {href: '#/authorizations/' + x.auth_number, testid: 'auth-number'}, x.auth_number)),
          h('td', {testid: 'auth-member'}, x.member_id), h('td', {testid: 'auth-service'}, x.service),
          h('td', {testid: 'auth-codes'}, x.procedure_codes.join(', ')), h('td', {testid: 'auth-provider'}, x.provider),
          h('td', {testid: 'auth-facility'}, x.facility), h('td', {}, h('span', {class: 'chip', testid: 'auth-status'}, x.status)),
          h('td', {testid: 'auth-approved-units'}, x.approved_units), h('td', {testid: 'auth-used-units'}, x.used_units),
          h('td', {testid: 'auth-start'}, day(x.start_date)), h('td', {testid: 'auth-end'}, day(x.end_date)),
          h('td', {testid: 'auth-requested'}, day(x.requested_date)), h('td', {testid: 'auth-decided'}, day(x.decision_date)));
      })))]);
  }

  // -- router ---------------------------------------------------------------------------------------------
  async function render() {
    var seq = ++app.renderSeq;
    var r = route();
    var top = r.parts[0] || '';
    try {
      if (top === 'login') { if (app.me) { go('#/claims'); return; } loginView(); return; }
      if (top === 'code') { codeView(); return; }
      if (!app.me) { go('#/login'); return; }
      var view = null;
      if (top === 'claims' && r.parts[1]) view = await claimDetailView(seq, decodeURIComponent(r.parts[1]));
      else if (top === 'claims') view = claimsView(seq);
      else if (top === 'documents') view = documentsView(seq, r.params);
      else if (top === 'authorizations') view = await authorizationsView(seq, r.parts[1]);
      else { go('#/claims'); return; }
      if (view && seq === app.renderSeq) mount(view);
    } catch (e) {
      if (e instanceof Halt) return;
      mount(h('div', {class: 'banner', testid: 'app-error', role: 'alert'}, 'Something went wrong. Please reload the page.'));
      throw e;
    }
  }

  async function start() {
    try {
      app.config = (await api('config')).body;
      var me = await fetch('api/me', {credentials: 'same-origin'});
      if (me.status >= 500) {
        var meBody = null;
        try { meBody = await me.json(); } catch (e) { meBody = null; }
        if (meBody && meBody.maintenance) showMaintenance(); else showServerError(me.status);
        return;
      }
      app.me = me.ok ? await me.json() : null;
    } catch (e) {
      if (e instanceof Halt) return;
      throw e;
    }
    startIdleTimer();
    window.addEventListener('hashchange', render);
    render();
  }

  start();
})();
