/* Runnel web console: plain JavaScript over the REST API (/api) and the WebSocket API (runnel.js). No build step. */
(function () {
  'use strict';

  var HISTORY = 120;              // points kept per chart series (2 minutes at one per second)
  var TAIL_ROWS = 200;            // rows the live tail keeps
  var COLORS = ['#0b6bcb', '#d9480f', '#2b8a3e', '#862e9c', '#e67700', '#1098ad'];

  // ---- helpers ----
  function $(sel) { return document.querySelector(sel); }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.className = attrs[k];
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }

  function td(value, cls) { return el('td', { text: value === null || value === undefined ? '' : String(value), class: cls || '' }); }
  function pre(value) { return el('td', {}, [el('pre', { text: value === null || value === undefined ? '(null)' : value })]); }
  // A record of a transaction: committed, or (read_uncommitted) still open or aborted; read_committed readers never see the last two.
  function txnCell(rec) { return td(rec.transaction || '', rec.transaction ? 'txn txn-' + rec.transaction : ''); }
  function txnRowClass(rec) { return rec.transaction === 'open' || rec.transaction === 'aborted' ? 'txn-' + rec.transaction : ''; }

  function api(method, path, body) {
    var opts = { method: method, headers: {} };
    if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers['content-type'] = 'application/json'; }
    return fetch(path, opts).then(function (r) {
      if (r.status === 204) return null;
      if (r.status === 401 && path !== '/api/login') showLogin();
      return r.json().then(function (j) {
        if (!r.ok) { var e = new Error(j.message || ('HTTP ' + r.status)); e.code = j.code; throw e; }
        return j;
      });
    });
  }

  function bytes(n) {
    if (n < 1024) return n + ' B';
    var units = ['KiB', 'MiB', 'GiB', 'TiB'], i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
    return n.toFixed(n < 10 ? 1 : 0) + ' ' + units[i];
  }

  function number(n) { return Number(n).toLocaleString(); }
  function time(ms) { return new Date(ms).toISOString().replace('T', ' ').replace('Z', ''); }

  function headersText(hs) {
    return (hs || []).map(function (h) { return h.key + '=' + (h.value === null ? '(null)' : h.value); }).join(', ');
  }

  function setResult(node, text, ok) { node.textContent = text; node.className = 'result ' + (ok ? 'ok' : 'error'); }

  // ---- charts (canvas, no library) ----
  function drawChart(canvas, series) {
    var ratio = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
    canvas.width = w * ratio; canvas.height = h * ratio;
    var g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    var left = 56, right = 10, top = 10, bottom = 24;
    var max = 1, tMin = Infinity, tMax = -Infinity;
    series.forEach(function (s) {
      s.points.forEach(function (p) { max = Math.max(max, p[1]); tMin = Math.min(tMin, p[0]); tMax = Math.max(tMax, p[0]); });
    });
    if (!isFinite(tMin)) { tMin = Date.now() - 60000; tMax = Date.now(); }
    if (tMax - tMin < 10000) tMin = tMax - 10000;
    max = niceCeiling(max);
    g.strokeStyle = '#e3e7ee'; g.fillStyle = '#6b7280'; g.font = '11px system-ui, sans-serif'; g.lineWidth = 1;
    for (var i = 0; i <= 4; i++) {
      var y = top + (h - top - bottom) * i / 4;
      g.beginPath(); g.moveTo(left, y); g.lineTo(w - right, y); g.stroke();
      var tick = max * (4 - i) / 4;
      g.fillText(max < 10 ? tick.toFixed(1) : number(Math.round(tick)), 4, y + 4);
    }
    g.fillText(new Date(tMin).toLocaleTimeString(), left, h - 6);
    var endLabel = new Date(tMax).toLocaleTimeString();
    g.fillText(endLabel, w - right - g.measureText(endLabel).width, h - 6);
    series.forEach(function (s) {
      g.strokeStyle = s.color; g.lineWidth = 2; g.beginPath();
      s.points.forEach(function (p, k) {
        var x = left + (w - left - right) * (p[0] - tMin) / (tMax - tMin);
        var y = top + (h - top - bottom) * (1 - p[1] / max);
        if (k === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
      if (s.points.length === 1) { // one point is not a line yet: show it as a dot
        var p = s.points[0];
        g.fillStyle = s.color;
        g.beginPath();
        g.arc(left + (w - left - right) * (p[0] - tMin) / (tMax - tMin), top + (h - top - bottom) * (1 - p[1] / max), 3, 0, 2 * Math.PI);
        g.fill();
      }
    });
  }

  /** The smallest of 1, 2, 5 times a power of ten that is at least n: a y-axis top with round ticks. */
  function niceCeiling(n) {
    var scale = Math.pow(10, Math.floor(Math.log10(n)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * scale >= n) return steps[i] * scale;
    return 10 * scale;
  }

  function push(points, t, v) {
    points.push([t, v]);
    if (points.length > HISTORY) points.shift();
  }

  // ---- tabs ----
  document.querySelectorAll('nav button').forEach(function (b) {
    b.addEventListener('click', function () { show(b.getAttribute('data-tab')); });
  });

  function show(tab) {
    document.querySelectorAll('nav button').forEach(function (b) { b.classList.toggle('active', b.getAttribute('data-tab') === tab); });
    document.querySelectorAll('.tab').forEach(function (s) { s.classList.toggle('active', s.id === 'tab-' + tab); });
    location.hash = tab;
    redrawCharts();
    if (tab === 'brokers') loadBrokersView().catch(function () { });
  }

  // ---- overview: cluster, throughput ----
  var inPoints = [], outPoints = [], lastStats = null;

  function loadCluster() {
    return api('GET', '/api/cluster').then(function (c) {
      var live = c.brokers.filter(function (b) { return b.live !== false; }).length;
      $('#cluster-info').textContent = 'cluster ' + c.clusterId + ' · ' + live + ' broker(s)' + (live < c.brokers.length ? ' live of ' + c.brokers.length : '');
      var body = $('#brokers tbody');
      body.replaceChildren();
      c.brokers.filter(function (b) { return b.live !== false; }).forEach(function (b) {
        body.appendChild(el('tr', {}, [td(b.nodeId), td(Object.keys(b.listeners).map(function (k) { return k + ' ' + b.listeners[k]; }).join(', ')),
          td(b.nodeId === c.controllerId ? 'controller' : 'broker')]));
      });
    });
  }

  // ---- brokers: the cluster as this broker sees it ----
  function brokerState(b) {
    if (!b.live) return ['not live', 'bad'];
    if (b.fenced) return ['fenced (catching up)', 'warn'];
    return ['live', 'good'];
  }

  function placementStatus(p) {
    var out = [];
    if (p.offline) out.push('offline');
    else if (p.underMinIsr) out.push('under min ISR');
    else if (p.underReplicated) out.push('under-replicated');
    if (p.reassigning) out.push('reassigning');
    if (!p.offline && !p.preferredLeader) out.push('not on preferred leader');
    return out;
  }

  function loadBrokersView() {
    if (!$('#tab-brokers').classList.contains('active')) return Promise.resolve();
    return Promise.all([api('GET', '/api/cluster'), api('GET', '/api/cluster/partitions')]).then(function (r) {
      var c = r[0], parts = r[1];
      $('#brokers-live').textContent = c.brokers.filter(function (b) { return b.live; }).length + ' / ' + c.brokers.length;
      $('#brokers-controller').textContent = c.controllerId >= 0 ? 'broker ' + c.controllerId : 'none';
      $('#brokers-under-replicated').textContent = number(c.underReplicatedPartitions);
      $('#brokers-offline').textContent = number(c.offlinePartitions);
      $('#brokers-imbalance').textContent = number(c.preferredReplicaImbalance);
      $('#brokers-under-replicated').className = 'big' + (c.underReplicatedPartitions > 0 ? ' warn' : '');
      $('#brokers-offline').className = 'big' + (c.offlinePartitions > 0 ? ' bad' : '');
      $('#brokers-seen-by').textContent = 'as broker ' + c.nodeId + ' sees them';
      var body = $('#broker-list tbody');
      body.replaceChildren();
      c.brokers.slice().sort(function (a, b) { return a.nodeId - b.nodeId; }).forEach(function (b) {
        var st = brokerState(b);
        var role = [b.controller ? 'controller' : 'broker'];
        if (c.metadataQuorum && c.metadataQuorum.voters && c.metadataQuorum.voters.indexOf(b.nodeId) >= 0) role.push('quorum voter');
        if (b.self) role.push('this broker');
        body.appendChild(el('tr', { 'data-node': b.nodeId }, [td(b.nodeId, 'num'),
          td(Object.keys(b.listeners).map(function (k) { return k + ' ' + b.listeners[k]; }).join(', ')), td(b.http || ''), td(b.rack || '–'),
          td(role.join(', ')), td(st[0], st[1]), td(number(b.partitionsLed), 'num'), td(number(b.underReplicatedLed), 'num' + (b.underReplicatedLed ? ' warn' : ''))]));
      });
      var rbody = $('#reassignments tbody');
      rbody.replaceChildren();
      if (c.reassignments.length === 0) rbody.appendChild(el('tr', {}, [el('td', { colspan: '6', class: 'muted', text: 'none running' })]));
      c.reassignments.forEach(function (ra) {
        rbody.appendChild(el('tr', {}, [td(ra.topic), td(ra.partition, 'num'), td(ra.replicas.join(', ')), td(ra.adding.join(', ')),
          td(ra.removing.join(', ')), td(ra.caughtUp.length + ' of ' + ra.adding.length + ' added replicas caught up')]));
      });
      var showInternal = $('#placement-internal').checked, problems = $('#placement-problems').checked;
      var pbody = $('#placement tbody');
      pbody.replaceChildren();
      parts.forEach(function (p) {
        var st = placementStatus(p);
        if (p.internal && !showInternal) return;
        if (problems && st.length === 0) return;
        pbody.appendChild(el('tr', { 'data-partition': p.topic + '-' + p.partition }, [td(p.topic), td(p.partition, 'num'), td(p.leader >= 0 ? p.leader : 'none', 'num'),
          td(p.replicas.join(', ')), td(p.isr.join(', ')), td(st.length ? st.join(', ') : 'ok', p.offline ? 'bad' : st.length ? 'warn' : 'good')]));
      });
    });
  }
  $('#placement-internal').addEventListener('change', function () { safe(loadBrokersView)(); });
  $('#placement-problems').addEventListener('change', function () { safe(loadBrokersView)(); });

  function pollStats() {
    api('GET', '/api/stats').then(function (s) {
      if (lastStats && s.time > lastStats.time) {
        var secs = (s.time - lastStats.time) / 1000;
        var rin = (s.recordsIn - lastStats.recordsIn) / secs, rout = (s.recordsOut - lastStats.recordsOut) / secs;
        push(inPoints, s.time, rin); push(outPoints, s.time, rout);
        $('#rate-in').textContent = number(Math.round(rin));
        $('#rate-out').textContent = number(Math.round(rout));
        redrawCharts();
      }
      lastStats = s;
    }).catch(function () { /* broker restarting: try again next tick */ });
  }

  function redrawCharts() {
    if ($('#tab-overview').classList.contains('active')) {
      drawChart($('#chart-throughput'), [{ color: COLORS[0], points: inPoints }, { color: COLORS[1], points: outPoints }]);
    }
    if ($('#tab-groups').classList.contains('active')) {
      var names = Object.keys(lagPoints).slice(0, COLORS.length);
      drawChart($('#chart-lag'), names.map(function (n, i) { return { color: COLORS[i], points: lagPoints[n] }; }));
      var legend = $('#lag-legend');
      legend.replaceChildren();
      names.forEach(function (n, i) {
        var sw = el('span', { class: 'swatch' }); sw.style.background = COLORS[i];
        legend.appendChild(el('span', {}, [sw, n]));
      });
    }
  }

  // ---- topics ----
  var topicNames = [];

  function loadTopics() {
    return api('GET', '/api/topics').then(function (topics) {
      $('#topic-count').textContent = topics.filter(function (t) { return !t.internal; }).length;
      var body = $('#topics tbody');
      body.replaceChildren();
      topics.forEach(function (t) {
        var del = el('button', { class: 'danger', text: 'Delete', type: 'button', onclick: function (ev) {
          ev.stopPropagation();
          if (!confirm('Delete topic ' + t.name + ' and all its records?')) return;
          api('DELETE', '/api/topics/' + encodeURIComponent(t.name)).then(loadTopics, function (e) { alert(e.message); });
        } });
        if (t.internal) del.disabled = true;
        body.appendChild(el('tr', { class: 'clickable', 'data-topic': t.name, onclick: function () { describeTopic(t.name); } },
          [td(t.name), td(t.partitions, 'num'), td(number(t.records), 'num'), td(bytes(t.sizeBytes), 'num'), el('td', {}, [del])]));
      });
      var names = topics.filter(function (t) { return !t.internal; }).map(function (t) { return t.name; });
      if (names.join() !== topicNames.join()) {
        topicNames = names;
        document.querySelectorAll('.topic-select').forEach(function (s) {
          var keep = s.value;
          s.replaceChildren();
          names.forEach(function (n) { s.appendChild(el('option', { value: n, text: n })); });
          if (names.indexOf(keep) >= 0) s.value = keep;
        });
      }
    });
  }

  function describeTopic(name) {
    api('GET', '/api/topics/' + encodeURIComponent(name)).then(function (t) {
      $('#topic-detail').hidden = false;
      $('#topic-detail-name').textContent = t.name + (t.internal ? ' (internal)' : '');
      var parts = $('#topic-partitions tbody');
      parts.replaceChildren();
      t.partitions.forEach(function (p) {
        // A replica taken offline by an I/O error says so in place of its figures (its log is not read).
        var figures = p.offline ? [el('td', {colspan: '3', class: 'offline', title: p.offline}, ['offline: I/O error'])]
          : [td(number(p.logStartOffset), 'num'), td(number(p.logEndOffset), 'num'), td(bytes(p.sizeBytes), 'num')];
        parts.appendChild(el('tr', {}, [td(p.partition, 'num'), td(p.leader, 'num'), td(p.replicas.join(', ')), td(p.isr.join(', '))].concat(figures)));
      });
      var cfg = $('#topic-configs tbody');
      cfg.replaceChildren();
      Object.keys(t.configs).sort().forEach(function (k) {
        cfg.appendChild(el('tr', {}, [td(k), td(t.configs[k].value), td(t.configs[k].source)]));
      });
    }, function (e) { alert(e.message); });
  }

  $('#create-topic').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var configs = {};
    $('#create-topic-configs').value.split(',').map(function (s) { return s.trim(); }).filter(Boolean).forEach(function (kv) {
      var i = kv.indexOf('=');
      if (i > 0) configs[kv.slice(0, i).trim()] = kv.slice(i + 1).trim();
    });
    var name = $('#create-topic-name').value.trim();
    api('POST', '/api/topics', { name: name, partitions: Number($('#create-topic-partitions').value), configs: configs }).then(function (t) {
      setResult($('#create-topic-result'), 'Created ' + t.name + ' with ' + t.partitions.length + ' partition(s)', true);
      $('#create-topic-name').value = '';
      return loadTopics();
    }, function (e) { setResult($('#create-topic-result'), e.message, false); });
  });

  // ---- message browser ----
  $('#browse').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var topic = $('#browse-topic').value, partition = $('#browse-partition').value, limit = Number($('#browse-limit').value);
    var from = $('#browse-from').value, at = $('#browse-at').value.trim();
    var start;
    if (from === 'earliest') start = Promise.resolve('offset=earliest');
    else if (from === 'offset') start = Promise.resolve('offset=' + encodeURIComponent(at || '0'));
    else if (from === 'timestamp') {
      var ts = /^\d+$/.test(at) ? Number(at) : Date.parse(at);
      if (isNaN(ts)) { setResult($('#browse-result'), 'Give a time such as 2026-11-25T10:00 or milliseconds', false); return; }
      start = Promise.resolve('timestamp=' + ts);
    } else {
      start = api('GET', '/api/topics/' + encodeURIComponent(topic)).then(function (t) {
        var p = t.partitions[Number(partition)];
        if (!p) throw new Error('Topic ' + topic + ' has no partition ' + partition);
        return 'offset=' + Math.max(p.logStartOffset, p.logEndOffset - limit);
      });
    }
    start.then(function (q) {
      return api('GET', '/api/topics/' + encodeURIComponent(topic) + '/partitions/' + partition + '/records?' + q + '&limit=' + limit);
    }).then(function (page) {
      var body = $('#messages tbody');
      body.replaceChildren();
      page.records.forEach(function (r) {
        body.appendChild(el('tr', { class: txnRowClass(r) }, [td(r.offset, 'num'), td(time(r.timestamp)), pre(r.key), pre(r.value),
          td(headersText(r.headers)), txnCell(r)]));
      });
      setResult($('#browse-result'), page.records.length + ' record(s); next offset ' + page.nextOffset + ', end ' + page.logEndOffset, true);
    }).catch(function (e) { setResult($('#browse-result'), e.message, false); });
  });

  // ---- live tail over the WebSocket ----
  var runnel = null, tailSub = null;

  function connection() {
    if (runnel) return Promise.resolve(runnel);
    return Runnel.connect().then(function (r) {
      runnel = r;
      r.onclose = function () { runnel = null; tailSub = null; $('#tail-start').disabled = false; $('#tail-stop').disabled = true;
        $('#tail-status').textContent = 'disconnected'; };
      return r;
    });
  }

  $('#tail').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var topic = $('#tail-topic').value;
    if (!topic) return;
    stopTail().then(connection).then(function (r) {
      return r.subscribe(topic, { from: 'latest', window: 200 }, function (rec) {
        var body = $('#tail-records tbody');
        var row = el('tr', { class: 'fresh tail-record ' + txnRowClass(rec) }, [td(rec.partition, 'num'), td(rec.offset, 'num'), td(time(rec.timestamp)),
          pre(rec.key), pre(rec.value), td(headersText(rec.headers)), txnCell(rec)]);
        body.insertBefore(row, body.firstChild);
        while (body.children.length > TAIL_ROWS) body.removeChild(body.lastChild);
      });
    }).then(function (sub) {
      tailSub = sub;
      $('#tail-start').disabled = true; $('#tail-stop').disabled = false;
      setResult($('#tail-status'), 'tailing ' + topic + ' (' + sub.partitions.length + ' partition(s)) from the end', true);
    }).catch(function (e) { setResult($('#tail-status'), e.message, false); });
  });

  function stopTail() {
    var s = tailSub;
    tailSub = null;
    $('#tail-start').disabled = false; $('#tail-stop').disabled = true;
    return s ? s.close().catch(function () { }) : Promise.resolve();
  }

  $('#tail-stop').addEventListener('click', function () { stopTail().then(function () { $('#tail-status').textContent = 'stopped'; }); });

  // ---- produce ----
  $('#produce').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var record = { value: $('#produce-value').value };
    var key = $('#produce-key').value;
    if (key) record.key = key;
    var headers = $('#produce-headers').value.split(',').map(function (s) { return s.trim(); }).filter(Boolean).map(function (kv) {
      var i = kv.indexOf('=');
      return i > 0 ? { key: kv.slice(0, i).trim(), value: kv.slice(i + 1).trim() } : { key: kv, value: null };
    });
    if (headers.length) record.headers = headers;
    if ($('#produce-partition').value !== '') record.partition = Number($('#produce-partition').value);
    var topic = $('#produce-topic').value;
    api('POST', '/api/topics/' + encodeURIComponent(topic) + '/records', { records: [record] }).then(function (r) {
      var res = r.results[0];
      if (res.error) setResult($('#produce-result'), res.error + ': ' + res.message, false);
      else setResult($('#produce-result'), 'Written to ' + topic + ' partition ' + res.partition + ' at offset ' + res.offset, true);
    }, function (e) { setResult($('#produce-result'), e.message, false); });
  });

  // ---- consumer groups ----
  var lagPoints = {};

  function loadGroups() {
    return api('GET', '/api/groups').then(function (groups) {
      $('#group-count').textContent = groups.length;
      return Promise.all(groups.map(function (g) {
        return api('GET', '/api/groups/' + encodeURIComponent(g.groupId)).catch(function () { return null; });
      })).then(function (details) {
        var body = $('#groups tbody'), now = Date.now();
        body.replaceChildren();
        details.forEach(function (d, i) {
          if (!d) return;
          if (!lagPoints[d.groupId]) lagPoints[d.groupId] = [];
          push(lagPoints[d.groupId], now, d.totalLag);
          body.appendChild(el('tr', { class: 'clickable', onclick: function () { describeGroup(d); } },
            [td(d.groupId), td(d.type), td(d.state), td(d.members.length, 'num'), td(number(d.totalLag), 'num')]));
        });
        redrawCharts();
      });
    });
  }

  function describeGroup(d) {
    $('#group-detail').hidden = false;
    $('#group-detail-name').textContent = d.groupId + ' · ' + d.state;
    var members = $('#group-members tbody');
    members.replaceChildren();
    d.members.forEach(function (m) {
      members.appendChild(el('tr', {}, [td(m.memberId), td(m.clientId), td(m.host),
        td(m.assignment.map(function (a) { return a.topic + ' [' + a.partitions.join(', ') + ']'; }).join('; '))]));
    });
    var share = d.type === 'share';
    $('#group-committed').hidden = share;
    $('#group-share').hidden = !share;
    if (share) {
      // A share group: per partition its start offset and lag, and where this broker leads it, what is in flight.
      var deliveries = $('#group-deliveries tbody');
      deliveries.replaceChildren();
      d.partitions.forEach(function (p) {
        var live = p.acquired !== undefined;
        var counts = live ? Object.keys(p.deliveryCounts).map(function (c) { return p.deliveryCounts[c] + '×' + c; }).join(', ') : '';
        deliveries.appendChild(el('tr', {}, [td(p.topic), td(p.partition, 'num'), td(number(p.startOffset), 'num'),
          td(p.lag === undefined ? '' : number(p.lag), 'num'), td(live ? number(p.acquired) : '', 'num'), td(live ? number(p.available) : '', 'num'),
          td(live ? number(p.acknowledged) : '', 'num'), td(live ? number(p.archived) : '', 'num'), td(counts)]));
      });
      return;
    }
    var offsets = $('#group-offsets tbody');
    offsets.replaceChildren();
    d.offsets.forEach(function (o) {
      offsets.appendChild(el('tr', {}, [td(o.topic), td(o.partition, 'num'), td(number(o.committedOffset), 'num'),
        td(o.logEndOffset === undefined ? '' : number(o.logEndOffset), 'num'), td(o.lag === undefined ? '' : number(o.lag), 'num')]));
    });
  }

  // ---- login (http.authentication=required): a form that sets the broker's HttpOnly session cookie ----
  function showLogin() {
    $('#login').hidden = false;
    document.querySelector('main').hidden = true;
    document.querySelector('nav').hidden = true;
  }

  $('#login-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    api('POST', '/api/login', { username: $('#login-user').value, password: $('#login-password').value })
      .then(function () { location.reload(); })
      .catch(function (e) { setResult($('#login-result'), e.message, false); });
  });
  $('#logout').addEventListener('click', function () {
    api('POST', '/api/logout').then(function () { location.reload(); });
  });

  // ---- start ----
  function safe(f) { return function () { f().catch(function () { }); }; }
  function start() {
    loadCluster().catch(function (e) { $('#cluster-info').textContent = 'broker unreachable: ' + e.message; });
    safe(loadTopics)(); safe(loadGroups)(); pollStats();
    setInterval(pollStats, 1000);
    setInterval(safe(loadTopics), 3000);
    setInterval(safe(loadGroups), 2000);
    setInterval(safe(loadBrokersView), 2000);
    window.addEventListener('resize', redrawCharts);
    if (location.hash.length > 1 && document.getElementById('tab-' + location.hash.slice(1))) show(location.hash.slice(1));
  }
  // Who is this? The console shows only what the broker's ACLs let that principal see (the API filters it).
  fetch('/api/whoami').then(function (r) {
    if (r.status === 401) { showLogin(); return; }
    return r.json().then(function (w) {
      if (w.authenticationRequired) {
        $('#whoami').textContent = w.principal;
        $('#whoami').hidden = false;
        $('#logout').hidden = false;
      }
      start();
    });
  }).catch(function () { start(); });
})();
