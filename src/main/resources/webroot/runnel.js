/*
 * runnel.js: a dependency-free client for Runnel's WebSocket API (/ws). Protocol: docs/websocket.md.
 *
 *   <script src="http://localhost:8080/runnel.js"></script>
 *   const runnel = await Runnel.connect();                    // ws(s)://<this script's host>/ws
 *   await runnel.produce('clicks', [{ key: 'u1', value: { x: 1 } }]);
 *   const sub = await runnel.subscribe('clicks', { from: 'earliest' }, r => console.log(r.offset, r.value));
 *   // with a consumer group: runnel.subscribe('clicks', { group: 'ui' }, handler); then await sub.commit();
 *   // as a worker of a share group (a queue): each record is accepted when the handler's promise resolves and
 *   // released (delivered again, to this or another worker) when it rejects or throws:
 *   await runnel.subscribe('jobs', { share: 'workers', window: 10 }, async job => { await work(job.value); });
 *
 * Flow control is automatic: a subscription grants `window` records (default 500) and grants more as the handler
 * finishes records; a handler that returns a promise holds its credit until the promise settles, so a slow page
 * slows the stream instead of piling records up. Produce calls wait for the server's produce credit.
 *
 * In a cluster, when the socket's broker goes away the client connects to another broker of the cluster (those the
 * server's hello listed, or options.brokers), authenticates again and resubscribes: a subscription without a group
 * resumes at the positions it had (the offset after the last record handed to the handler, per partition), so the
 * handler sees no record twice and none missing; a group subscription rejoins its group (records after the last
 * commit come again, as for any consumer). Requests in flight at that moment fail with code DISCONNECTED.
 */
(function (global) {
  'use strict';

  var scriptSrc = (typeof document !== 'undefined' && document.currentScript) ? document.currentScript.src : null;

  function defaultUrl() {
    var base = scriptSrc ? new URL(scriptSrc) : (typeof location !== 'undefined' ? new URL(location.href) : null);
    if (!base) throw new Error('Runnel.connect needs a URL such as ws://localhost:8080/ws');
    return (base.protocol === 'https:' ? 'wss://' : 'ws://') + base.host + '/ws';
  }

  function RunnelError(frame) {
    var e = new Error(frame.message || frame.code);
    e.code = frame.code;
    e.frame = frame;
    return e;
  }

  function Subscription(client, topic, options, handler) {
    this.client = client;
    this.topic = topic;
    this.options = options;
    this.handler = handler;
    this.id = null;
    this.partitions = [];
    this.window = options.window || 500;
    this.unacked = 0;          // records delivered to the handler and not yet finished
    this.pendingGrant = 0;     // finished records not yet granted back
    this.positions = {};       // partition -> next offset (after the last record handed to the handler)
    this.onerror = options.onerror || null;
    this.onassign = options.onassign || null;
    this.closed = false;
    this.share = options.share !== undefined;
    this.acks = [];            // share: acknowledgements not sent yet ({partition, offset, type})
    this.ackTimer = null;
  }

  /** Share: acknowledges a record (type 'accept', 'release' or 'reject'); sent with others a moment later. */
  Subscription.prototype.ack = function (record, type) {
    if (!this.share || this.closed) return;
    this.acks.push({ partition: record.partition, offset: record.offset, type: type || 'accept' });
    var self = this;
    if (this.acks.length >= 500) this._flushAcks();
    else if (!this.ackTimer) this.ackTimer = setTimeout(function () { self._flushAcks(); }, 0);
  };

  Subscription.prototype._flushAcks = function () {
    if (this.ackTimer) { clearTimeout(this.ackTimer); this.ackTimer = null; }
    if (!this.acks.length || this.id === null) return;
    var records = this.acks;
    this.acks = [];
    var self = this;
    this.client._request({ op: 'ack', subscription: this.id, records: records }).then(function (acked) {
      (acked.partitions || []).forEach(function (p) {
        if (!p.error) return;
        // A record whose lock ran out (or that another worker holds now) cannot be acknowledged: it is delivered again.
        var e = new Error('acknowledgement of partition ' + p.partition + (p.offsets ? ' offsets ' + p.offsets.join(',') : '') + ' failed: ' + p.error);
        e.code = p.error;
        if (p.offsets) e.offsets = p.offsets;
        if (self.onerror) self.onerror(e); else console.warn('runnel:', e.message);
      });
    }, function (e) {
      if (self.onerror) self.onerror(e); else console.warn('runnel: acknowledging failed:', e.message);
    });
  };

  Subscription.prototype._records = function (records) {
    var self = this;
    records.forEach(function (r) {
      if (!self.share) self.positions[r.partition] = r.offset + 1;
      self.unacked++;
      var done = function () { self.unacked--; self.pendingGrant++; self._topUp(); };
      // A share subscription acknowledges each record: accepted when the handler succeeds, released when it fails.
      var auto = self.share && self.options.autoAck !== false;
      var ok = auto ? function () { self.ack(r, 'accept'); done(); } : done;
      var failed = auto ? function (e) {
        if (e !== undefined) { if (self.onerror) self.onerror(e); else console.error(e); }
        self.ack(r, self.options.onFailure || 'release');
        done();
      } : done;
      var result;
      try {
        result = self.handler(r);
      } catch (e) {
        failed(e);
        return;
      }
      if (result && typeof result.then === 'function') result.then(function () { ok(); }, failed); else ok();
    });
  };

  /** The subscribe frame of this subscription, granting {@code credit} records. */
  Subscription.prototype._frame = function (credit) {
    var frame = { op: 'subscribe', topic: this.topic, credit: { records: credit } };
    var options = this.options;
    ['from', 'partitions', 'group', 'share', 'encoding', 'isolation'].forEach(function (k) { if (options[k] !== undefined) frame[k] = options[k]; });
    return frame;
  };

  /** The server's "subscribed": the subscription's id on this socket and where each partition starts. */
  Subscription.prototype._subscribed = function (subscribed) {
    var self = this;
    this.id = subscribed.subscription;
    this.partitions = subscribed.partitions || [];
    this.memberId = subscribed.memberId;
    this.partitions.forEach(function (p) { if (self.positions[p.partition] === undefined) self.positions[p.partition] = p.offset; });
    this.client.subscriptions[this.id] = this;
  };

  Subscription.prototype._topUp = function () {
    // Grant in chunks of half the window, so credit frames stay few.
    if (this.closed || this.pendingGrant < Math.max(1, Math.floor(this.window / 2))) return;
    var n = this.pendingGrant;
    this.pendingGrant = 0;
    this.client._send({ op: 'credit', subscription: this.id, records: n });
  };

  /** Commits the next offset after the last record handed to the handler (or the given offsets) for the group. */
  Subscription.prototype.commit = function (offsets) {
    var frame = { op: 'commit', subscription: this.id };
    if (offsets) frame.offsets = offsets;
    else frame.offsets = Object.keys(this.positions).map(function (p) { return { partition: Number(p), offset: this.positions[p] }; }, this);
    return this.client._request(frame);
  };

  Subscription.prototype.close = function () {
    if (this.closed) return Promise.resolve();
    this._flushAcks();
    this.closed = true;
    delete this.client.subscriptions[this.id];
    return this.client._request({ op: 'unsubscribe', subscription: this.id });
  };

  function Runnel(url, credentials, options) {
    this.ws = null;
    this.url = url;
    this.credentials = credentials;
    this.options = options;
    this.brokers = (options.brokers || []).slice(); // ws(s) URLs of the cluster's brokers, this one first
    this.nextId = 1;
    this.pending = {};          // request id -> {resolve, reject, onFrame?}
    this.subscriptions = {};    // subscription id -> Subscription
    this.credit = { records: 0, bytes: 0 };
    this.waitingForCredit = [];
    this.closedByUser = false;
    this.reconnecting = false;
    this.onerror = null;
    this.onclose = null;        // the client gave up (or close() was called): no more reconnects
    this.onreconnect = null;    // connected again, to the URL given, after its broker went away
  }

  function wsUrl(httpAddress, like) {
    return (like.indexOf('wss:') === 0 ? 'wss://' : 'ws://') + httpAddress + '/ws';
  }

  /**
   * Opens a connection; resolves once the server said hello (and, with credentials, once they were accepted).
   * Credentials, when the broker requires them: `{token: '<JWT>'}` or `{username, password}` (a SCRAM user); a page
   * of the console after its login needs none (the login cookie goes with the socket). Never put them in the URL.
   * options: reconnect (default true: move to another broker of the cluster when this one goes away),
   * reconnectTimeoutMs (default 60000: how long to keep trying), brokers (ws URLs to try besides those the server
   * names).
   */
  Runnel.connect = function (url, credentials, options) {
    if (url && typeof url === 'object') { options = credentials; credentials = url; url = null; }
    var client = new Runnel(url || defaultUrl(), credentials, options || {});
    return client._open(client.url).then(function () { return client; });
  };

  /** Opens a socket to {@code url}: resolves once it said hello and accepted the credentials. */
  Runnel.prototype._open = function (url) {
    var client = this;
    return new Promise(function (resolve, reject) {
      var ws = new WebSocket(url);
      var hello = false;
      ws.onmessage = function (ev) {
        var frame = JSON.parse(ev.data);
        if (!hello && frame.type === 'hello') {
          hello = true;
          client.ws = ws;
          client.url = url;
          client.credit = frame.credit;
          (frame.brokers || []).forEach(function (b) {
            var u = wsUrl(b, url);
            if (client.brokers.indexOf(u) < 0) client.brokers.push(u);
          });
          if (!client.credentials) { resolve(); return; }
          var c = client.credentials;
          var auth = c.token ? { op: 'auth', token: c.token } : { op: 'auth', username: c.username, password: c.password };
          client._request(auth).then(function () { resolve(); }, function (e) { ws.close(); reject(e); });
          return;
        }
        if (client.ws === ws) client._frame(frame);
      };
      ws.onerror = function () { if (!hello) reject(new Error('Cannot connect to ' + url)); };
      ws.onclose = function () {
        if (!hello) { reject(new Error('Cannot connect to ' + url)); return; }
        if (client.ws !== ws) return;
        var err = new Error('connection closed');
        err.code = 'DISCONNECTED';
        Object.keys(client.pending).forEach(function (id) { client.pending[id].reject(err); });
        client.pending = {};
        if (client.closedByUser || client.options.reconnect === false) {
          if (client.onclose) client.onclose();
          return;
        }
        client._reconnect();
      };
    });
  };

  /**
   * The socket's broker went away: tries the cluster's brokers in turn (the others first), pausing 250 ms and up to
   * 5 s between rounds, until one answers or reconnectTimeoutMs has passed; then resubscribes every subscription.
   */
  Runnel.prototype._reconnect = function () {
    var client = this;
    if (client.reconnecting) return;
    client.reconnecting = true;
    var lost = client.url;
    var deadline = Date.now() + (client.options.reconnectTimeoutMs || 60000);
    var delay = 250;
    var round = function () {
      if (client.closedByUser) { client.reconnecting = false; return; }
      var candidates = client.brokers.filter(function (u) { return u !== lost; });
      if (candidates.indexOf(lost) < 0) candidates.push(lost);
      var attempt = function (i) {
        if (i >= candidates.length) {
          if (Date.now() >= deadline) {
            client.reconnecting = false;
            if (client.onclose) client.onclose();
            return;
          }
          setTimeout(round, delay);
          delay = Math.min(delay * 2, 5000);
          return;
        }
        client._open(candidates[i]).then(function () {
          client.reconnecting = false;
          client._resubscribe();
          if (client.onreconnect) client.onreconnect(client.url);
          client._flushWaiting();
        }, function () { attempt(i + 1); });
      };
      attempt(0);
    };
    setTimeout(round, 0);
  };

  /** Subscribes every open subscription again on the new socket, from the positions it had. */
  Runnel.prototype._resubscribe = function () {
    var client = this;
    var subs = Object.keys(client.subscriptions).map(function (id) { return client.subscriptions[id]; });
    client.subscriptions = {};
    subs.forEach(function (sub) {
      if (sub.closed) return;
      var frame = sub._frame(Math.max(1, sub.window - sub.unacked));
      sub.acks = []; // a share subscription's records were released with its old session: they come again
      if (!sub.options.group && !sub.share && Object.keys(sub.positions).length) {
        var offsets = {};
        Object.keys(sub.positions).forEach(function (p) { offsets[p] = sub.positions[p]; });
        frame.from = { offsets: offsets };
        delete frame.partitions;
      }
      client._request(frame).then(function (subscribed) {
        sub._subscribed(subscribed);
      }, function (e) {
        if (sub.onerror) sub.onerror(e); else console.warn('runnel: resubscribing to ' + sub.topic + ' failed:', e.message);
      });
    });
  };

  Runnel.prototype._send = function (frame) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(frame));
  };

  Runnel.prototype._request = function (frame, extra) {
    var self = this;
    var id = this.nextId++;
    frame.id = id;
    return new Promise(function (resolve, reject) {
      if (!self.ws || self.ws.readyState !== 1) {
        var e = new Error('not connected' + (self.reconnecting ? ' (connecting to another broker)' : ''));
        e.code = 'DISCONNECTED';
        reject(e);
        return;
      }
      self.pending[id] = Object.assign({ resolve: resolve, reject: reject }, extra || {});
      self._send(frame);
    });
  };

  Runnel.prototype._frame = function (frame) {
    var sub = frame.subscription !== undefined ? this.subscriptions[frame.subscription] : null;
    if (frame.type === 'records') {
      if (sub) sub._records(frame.records);
      return;
    }
    if (frame.type === 'assigned') {
      if (sub) {
        (frame.revoked || []).forEach(function (p) { delete sub.positions[p]; });
        sub.partitions = sub.partitions.filter(function (p) { return frame.revoked.indexOf(p.partition) < 0; }).concat(frame.partitions);
        if (!sub.share) frame.partitions.forEach(function (p) { sub.positions[p.partition] = p.offset; });
        if (sub.onassign) sub.onassign(frame);
      }
      return;
    }
    var waiter = frame.id !== undefined ? this.pending[frame.id] : null;
    if (waiter) {
      delete this.pending[frame.id];
      if (frame.type === 'error') waiter.reject(RunnelError(frame)); else waiter.resolve(frame);
      return;
    }
    if (frame.type === 'error') {
      var e = RunnelError(frame);
      if (sub) {
        if (sub.onerror) sub.onerror(e); else console.warn('runnel subscription ' + sub.id + ':', e.message);
      } else if (this.onerror) {
        this.onerror(e);
      } else {
        console.warn('runnel:', e.message);
      }
    }
  };

  Runnel.prototype._flushWaiting = function () {
    while (this.waitingForCredit.length && this.waitingForCredit[0].records <= this.credit.records
        && this.waitingForCredit[0].bytes <= this.credit.bytes) {
      var w = this.waitingForCredit.shift();
      this.credit.records -= w.records;
      this.credit.bytes -= w.bytes;
      w.go();
    }
  };

  /**
   * Produces records ({key, value, headers, partition, timestamp}; a value that is not a string is sent as JSON).
   * Resolves with one result per record: {partition, offset, timestamp} or {partition, error, message}.
   * options: encoding, acks, transactionalId (the records are written as one Kafka transaction, all or none: the
   * call then resolves once it is committed, or rejects, with nothing written, when it was aborted).
   */
  Runnel.prototype.produce = function (topic, records, options) {
    var self = this;
    var frame = { op: 'produce', topic: topic, records: records };
    if (options && options.encoding) frame.encoding = options.encoding;
    if (options && options.acks !== undefined) frame.acks = options.acks;
    if (options && options.transactionalId !== undefined) frame.transactionalId = options.transactionalId;
    var size = JSON.stringify(frame).length + 32;
    return new Promise(function (resolve, reject) {
      self.waitingForCredit.push({
        records: records.length, bytes: size, go: function () {
          // The credit a frame takes comes back with its answer, acknowledgement or error.
          var giveBack = function () {
            self.credit.records += records.length;
            self.credit.bytes += size;
            self._flushWaiting();
          };
          self._request(frame).then(function (ack) { giveBack(); resolve(ack.results); }, function (e) { giveBack(); reject(e); });
        }
      });
      self._flushWaiting();
    });
  };

  /**
   * Subscribes to a topic. options: from ('earliest' | 'latest' | {offset} | {timestamp}), partitions ([n, ...]),
   * group (a consumer group id; partitions are then assigned by the group), share (a share group id: the subscription
   * is a worker of that queue; each record is accepted when the handler settles, released when it fails, or
   * `onFailure: 'reject'` to archive it; with `autoAck: false` the page calls `sub.ack(record, type)` itself), window
   * (records in flight, default 500),
   * encoding ('base64' for every key and value as base64), isolation ('read_committed': committed transactions only;
   * 'read_uncommitted', the default, as Kafka's consumer), onerror, onassign. Resolves with the Subscription.
   */
  Runnel.prototype.subscribe = function (topic, options, handler) {
    options = options || {};
    var sub = new Subscription(this, topic, options, handler);
    // Records may follow the "subscribed" frame at once: register the subscription before they arrive.
    return this._request(sub._frame(sub.window)).then(function (subscribed) {
      sub._subscribed(subscribed);
      return sub;
    });
  };

  Runnel.prototype.close = function () {
    this.closedByUser = true;
    if (this.ws) this.ws.close();
  };

  global.Runnel = Runnel;
})(typeof window !== 'undefined' ? window : globalThis);
