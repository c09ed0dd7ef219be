// Tether dashboard: listens to /events/stream (server-sent events) and renders counts, the
// failure rate and the latest events. No external assets; plain DOM and a canvas.
(function () {
  'use strict';
  var MAX_ROWS = 200;
  var byId = function (id) { return document.getElementById(id); };

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value === undefined || value === null ? '' : String(value);
    if (cls) { el.className = cls; }
    return el;
  }

  function renderCounts(counts) {
    byId('total-failures').textContent = counts.failures;
    byId('total-recoveries').textContent = counts.recoveries;
    byId('ring-size').textContent = counts.ring.size;
    byId('ring-dropped').textContent = counts.ring.dropped;
    fillTable('kinds', counts.byKind, 'kind-');
    fillTable('outcomes', counts.byOutcome, 'outcome-');
    drawRate(counts.ratePerSecond || []);
  }

  function fillTable(id, map, prefix) {
    var body = byId(id).tBodies[0];
    body.textContent = '';
    Object.keys(map).sort().forEach(function (k) {
      var tr = document.createElement('tr');
      tr.id = prefix + k.replace(/[^A-Za-z0-9_]/g, '_');
      tr.appendChild(text('td', k));
      tr.appendChild(text('td', map[k], 'num count'));
      body.appendChild(tr);
    });
  }

  // one row per node: live members (oldest first), then nodes seen lost or only in events
  function renderNodes(nodes) {
    if (!nodes) { return; }
    var body = byId('nodes').tBodies[0];
    body.textContent = '';
    nodes.forEach(function (n) {
      var tr = document.createElement('tr');
      tr.id = 'node-' + n.node.replace(/[^A-Za-z0-9_]/g, '_');
      tr.className = n.status;
      tr.appendChild(text('td', n.node + (n.self ? ' (this node)' : ''), 'name'));
      tr.appendChild(text('td', n.status, 'status'));
      tr.appendChild(text('td', n.status === 'live' ? n.sessions : '', 'num sessions'));
      tr.appendChild(text('td', n.failures, 'num failures'));
      tr.appendChild(text('td', Object.keys(n.byKind || {}).sort().map(function (k) {
        return k + ' ' + n.byKind[k];
      }).join(', '), 'kinds'));
      var note = '';
      if (n.lost) {
        note = (n.status === 'live' ? 'back; was lost at ' : (n.lost.graceful ? 'left at ' : 'lost at '))
          + new Date(n.lost.time).toLocaleTimeString() + ', ' + n.lost.sessionsHeld + ' session(s) held, '
          + n.lost.sessionsTakenOver + ' taken over, ' + n.lost.sessionsLost + ' lost (reported by '
          + n.lost.reportedBy + ')';
      }
      tr.appendChild(text('td', note, 'note'));
      body.appendChild(tr);
    });
  }

  function drawRate(values) {
    var c = byId('rate');
    var ctx = c.getContext('2d');
    var w = c.width, h = c.height, pad = 24;
    ctx.clearRect(0, 0, w, h);
    var max = 1;
    values.forEach(function (v) { if (v > max) { max = v; } });
    ctx.strokeStyle = '#ccd';
    ctx.beginPath(); ctx.moveTo(pad, h - pad); ctx.lineTo(w, h - pad); ctx.stroke();
    ctx.fillStyle = '#556';
    ctx.font = '11px sans-serif';
    ctx.fillText(String(max), 2, 12);
    ctx.fillText('0', 2, h - pad);
    var bw = (w - pad) / Math.max(values.length, 1);
    ctx.fillStyle = '#c62828';
    values.forEach(function (v, i) {
      var bh = (h - pad - 14) * v / max;
      ctx.fillRect(pad + i * bw + 1, h - pad - bh, Math.max(bw - 2, 1), bh);
    });
  }

  function addEvents(events) {
    // events arrive newest first; insert them so the newest ends on top
    var body = byId('events').tBodies[0];
    for (var i = events.length - 1; i >= 0; i--) {
      body.insertBefore(row(events[i]), body.firstChild);
    }
    while (body.rows.length > MAX_ROWS) { body.deleteRow(body.rows.length - 1); }
  }

  function row(e) {
    var tr = document.createElement('tr');
    var failure = e.type === 'failure';
    tr.className = e.type;
    tr.setAttribute('data-id', failure ? e.id : e.failure);
    tr.setAttribute('data-connection', e.connection || '');
    tr.appendChild(text('td', new Date(e.time || Date.now()).toLocaleTimeString()));
    tr.appendChild(text('td', e.type, 'type'));
    tr.appendChild(text('td', e.kind, 'kind'));
    tr.appendChild(text('td', e.node));
    tr.appendChild(text('td', e.connection, 'connection'));
    tr.appendChild(text('td', failure ? e.requested : '', 'num requested'));
    tr.appendChild(text('td', failure ? e.flushed : '', 'num flushed'));
    tr.appendChild(text('td', failure ? e.unsent : '', 'num unsent'));
    tr.appendChild(text('td', failure ? e.offset : '', 'num offset'));
    tr.appendChild(text('td', failure ? (e.kind === 'NODE_LOST' ? e.message : (e.cause || '')) :
      (e.policy + ': ' + e.action + ' ' + e.bytes + ' B -> ' + e.result), 'recovery'));
    return tr;
  }

  function connect() {
    var status = byId('status');
    var source = new EventSource('/events/stream');
    source.addEventListener('snapshot', function (m) {
      var d = JSON.parse(m.data);
      byId('node').textContent = 'node ' + d.node;
      byId('events').tBodies[0].textContent = '';
      renderCounts(d.counts);
      renderNodes(d.nodes);
      addEvents(d.events);
      status.textContent = 'live';
      status.className = 'status on';
    });
    source.addEventListener('update', function (m) {
      var d = JSON.parse(m.data);
      renderCounts(d.counts);
      renderNodes(d.nodes);
      addEvents(d.events);
      byId('skipped').textContent = d.skipped ? '(' + d.skipped + ' not shown: too many at once)' : '';
    });
    source.onerror = function () {
      status.textContent = 'disconnected, retrying…';
      status.className = 'status off';
    };
  }

  connect();
}());
