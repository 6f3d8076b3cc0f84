// livetsm page: camera → WebRTC (VP8) → server; predictions ← websocket.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    start: $('start'), stop: $('stop'), preview: $('preview'), placeholder: $('placeholder'),
    error: $('error'), label: $('label'), score: $('score'), bars: $('bars'), fps: $('fps'),
    latency: $('latency'), dropped: $('dropped'), lost: $('lost'), history: $('history'),
    wsState: $('ws-state'), pcState: $('pc-state'), model: $('model'),
  };

  const token = new URLSearchParams(location.search).get('token') || '';
  const withToken = (path) => token ? path + (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : path;
  const authHeaders = () => token ? { Authorization: 'Bearer ' + token } : {};

  // Labels that mean "nothing happened": kept out of the history strip.
  const idle = new Set(['No gesture', 'Doing other things']);

  let run = null; // the current run: {camera, pc, ws, session, ...}

  function setPill(el, prefix, state, text) {
    el.dataset.state = state;
    el.textContent = prefix + ': ' + (text || state);
  }

  function showError(msg) {
    ui.error.textContent = msg;
    ui.error.hidden = false;
  }

  function clearError() {
    ui.error.hidden = true;
    ui.error.textContent = '';
  }

  // cameraError says in words why getUserMedia failed.
  function cameraError(err) {
    switch (err && err.name) {
      case 'NotAllowedError':
      case 'SecurityError':
        return 'Camera access was denied. Allow the camera for this page (the camera icon in the address bar) and press Start again.';
      case 'NotFoundError':
      case 'OverconstrainedError':
        return 'No usable camera was found. Connect a camera and press Start again.';
      case 'NotReadableError':
      case 'AbortError':
        return 'The camera could not be opened; another application may be using it.';
      default:
        return 'The camera could not be started: ' + (err && err.message ? err.message : err);
    }
  }

  // serverError turns a failed API response into words.
  async function serverError(resp, what) {
    let detail = '';
    try { detail = (await resp.json()).error || ''; } catch (_) { /* not JSON */ }
    if (resp.status === 401) return 'The server needs its access token: open the full address livetsm printed (ending in ?token=…).';
    if (resp.status === 503) return 'The server is busy: ' + (detail || 'too many sessions') + '.';
    return `The server refused ${what} (HTTP ${resp.status})${detail ? ': ' + detail : ''}.`;
  }

  async function fetchJSON(path, init, what) {
    let resp;
    try {
      resp = await fetch(withToken(path), init);
    } catch (_) {
      throw new Error('The server is unreachable at ' + location.host + '. Is livetsm still running?');
    }
    if (!resp.ok) throw new Error(await serverError(resp, what));
    return resp.json();
  }

  function waitForIce(pc, ms) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); pc.removeEventListener('icegatheringstatechange', check); resolve(); };
      const check = () => { if (pc.iceGatheringState === 'complete') done(); };
      const timer = setTimeout(done, ms);
      pc.addEventListener('icegatheringstatechange', check);
    });
  }

  async function start() {
    clearError();
    ui.start.disabled = true;
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showError('The browser only gives the camera to secure pages: open this page over https:// (livetsm --cert/--key) or on http://localhost.');
      ui.start.disabled = false;
      return;
    }
    const r = { stopped: false, wsTries: 0, lastLabel: '' };
    run = r;
    try {
      const cfg = await fetchJSON('/api/config', { headers: authHeaders() }, 'the configuration request');
      ui.model.textContent = cfg.model;
      try {
        r.camera = await navigator.mediaDevices.getUserMedia({
          video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } }, audio: false,
        });
      } catch (err) {
        throw new Error(cameraError(err));
      }
      if (r.stopped) { stopTracks(r); return; }
      ui.preview.srcObject = r.camera;
      ui.placeholder.hidden = true;
      ui.stop.disabled = false;
      r.iceServers = (cfg.ice_servers || []).map((s) => ({ urls: s.urls, username: s.username, credential: s.credential }));
      await connect(r);
    } catch (err) {
      if (run === r && !r.stopped) {
        showError(err.message || String(err));
        stop(false);
      }
    }
  }

  // connect negotiates a peer connection for r's camera and opens the
  // websocket. It is also used to start over when the session was lost.
  async function connect(r) {
    const pc = new RTCPeerConnection({ iceServers: r.iceServers });
    r.pc = pc;
    const track = r.camera.getVideoTracks()[0];
    const tr = pc.addTransceiver(track, { direction: 'sendonly', streams: [r.camera] });
    if (window.RTCRtpSender && RTCRtpSender.getCapabilities && tr.setCodecPreferences) {
      const caps = RTCRtpSender.getCapabilities('video');
      const vp8 = caps ? caps.codecs.filter((c) => /vp8/i.test(c.mimeType)) : [];
      if (caps && !vp8.length) {
        throw new Error('This browser cannot send VP8 video, the only codec livetsm decodes (Safari and some mobile browsers send H.264 only): open the page in Chrome, Firefox or Edge.');
      }
      if (vp8.length) { try { tr.setCodecPreferences(vp8); } catch (_) { /* keep the default order */ } }
    }
    setPill(ui.pcState, 'video', 'connecting');
    pc.addEventListener('connectionstatechange', () => {
      if (run !== r || r.pc !== pc) return;
      setPill(ui.pcState, 'video', pc.connectionState);
      if (pc.connectionState === 'failed') {
        showError('The video connection failed. The server may be unreachable over UDP from here (firewall or NAT): see --stun, --ice-ip and --udp-ports.');
      }
    });
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIce(pc, 5000);
    if (r.stopped) return;
    const answer = await fetchJSON('/api/offer', {
      method: 'POST',
      headers: Object.assign({ 'Content-Type': 'application/json' }, authHeaders()),
      body: JSON.stringify({ type: 'offer', sdp: pc.localDescription.sdp }),
    }, 'the video offer');
    if (r.stopped) return;
    r.session = answer.session;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    openSocket(r);
  }

  function openSocket(r) {
    if (r.stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = scheme + '//' + location.host + withToken('/api/ws?session=' + encodeURIComponent(r.session));
    const ws = new WebSocket(url);
    r.ws = ws;
    r.wsOpened = false;
    setPill(ui.wsState, 'server', r.wsTries ? 'reconnecting' : 'connecting');
    ws.onopen = () => {
      r.wsOpened = true;
      r.wsTries = 0;
      setPill(ui.wsState, 'server', 'connected');
      if (!ui.error.dataset.sticky) clearError();
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      handle(r, msg);
    };
    ws.onclose = (ev) => {
      if (r.stopped || r.ws !== ws) return;
      if (ev.code === 4000) return; // replaced by a newer socket
      if (ev.code === 4001) {
        // The session ended on the server; the error message came first.
        setPill(ui.wsState, 'server', 'closed', 'session ended');
        if (ui.error.hidden) showError('The server ended the session: ' + (ev.reason || 'no reason given') + '.');
        stop(false);
        return;
      }
      reconnect(r);
    };
  }

  // reconnect reopens a dropped websocket with backoff; if the server has
  // forgotten the session (it restarted), it starts a new one.
  async function reconnect(r) {
    r.wsTries++;
    const wait = Math.min(500 * 2 ** (r.wsTries - 1), 5000);
    setPill(ui.wsState, 'server', 'reconnecting');
    showError('Lost the connection to the server; reconnecting…');
    await new Promise((res) => setTimeout(res, wait));
    if (r.stopped || run !== r) return;
    let reachable = true;
    try {
      const resp = await fetch(withToken('/api/config'), { headers: authHeaders() });
      reachable = resp.ok;
      if (!resp.ok) showError(await serverError(resp, 'the reconnection'));
    } catch (_) {
      reachable = false;
      showError('The server is unreachable at ' + location.host + '; retrying…');
    }
    if (!reachable) { reconnect(r); return; }
    if (!r.wsOpened && r.wsTries >= 3) {
      // The server answers but refuses the session: it was lost. Start over.
      try {
        if (r.pc) r.pc.close();
        r.wsTries = 0;
        await connect(r);
      } catch (err) {
        showError(err.message || String(err));
        reconnect(r);
      }
      return;
    }
    openSocket(r);
  }

  function handle(r, msg) {
    switch (msg.type) {
      case 'hello':
        ui.model.textContent = msg.model + ' · ' + msg.labels.length + ' classes · ' + msg.fps + ' fps';
        break;
      case 'state':
        setPill(ui.pcState, 'video', msg.state);
        break;
      case 'prediction':
        showPrediction(r, msg);
        break;
      case 'error': {
        const prefix = { model: 'Model error: ', video: 'Video error: ', peer: 'Connection error: ' }[msg.code] || 'Error: ';
        showError(prefix + msg.message);
        if (msg.fatal) ui.error.dataset.sticky = '1';
        break;
      }
      default:
        break;
    }
  }

  function showPrediction(r, p) {
    ui.label.textContent = p.label;
    ui.score.textContent = (100 * p.score).toFixed(1) + '% · frame ' + p.frame;
    const top = p.top5 || [];
    while (ui.bars.children.length < top.length) {
      const li = document.createElement('li');
      li.innerHTML = '<span class="name"></span><span class="pct"></span><span class="bar"><span class="fill"></span></span>';
      ui.bars.appendChild(li);
    }
    while (ui.bars.children.length > top.length) ui.bars.lastChild.remove();
    top.forEach((c, i) => {
      const li = ui.bars.children[i];
      li.querySelector('.name').textContent = c.label;
      li.querySelector('.pct').textContent = (100 * c.score).toFixed(1) + '%';
      li.querySelector('.fill').style.width = Math.max(0, Math.min(100, 100 * c.score)).toFixed(1) + '%';
    });
    ui.fps.textContent = p.fps.toFixed(1);
    ui.latency.textContent = Math.round(p.latency_ms) + ' ms';
    ui.dropped.textContent = String(p.dropped);
    ui.lost.textContent = String(p.lost);
    if (p.label !== r.lastLabel) {
      r.lastLabel = p.label;
      if (!idle.has(p.label)) addHistory(p.label);
    }
  }

  function addHistory(label) {
    const empty = ui.history.querySelector('.empty');
    if (empty) empty.remove();
    const li = document.createElement('li');
    const t = document.createElement('span');
    t.className = 't';
    t.textContent = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    li.textContent = label;
    li.appendChild(t);
    ui.history.prepend(li);
    while (ui.history.children.length > 10) ui.history.lastChild.remove();
  }

  function stopTracks(r) {
    if (r.camera) r.camera.getTracks().forEach((t) => t.stop());
  }

  // stop ends the run; clear says whether to wipe the error message too.
  function stop(clear) {
    const r = run;
    run = null;
    if (r) {
      r.stopped = true;
      if (r.ws) {
        try { if (r.ws.readyState === WebSocket.OPEN) r.ws.send(JSON.stringify({ type: 'stop' })); } catch (_) { /* closing anyway */ }
        r.ws.close();
      }
      if (r.pc) r.pc.close();
      stopTracks(r);
    }
    if (clear) clearError();
    delete ui.error.dataset.sticky;
    ui.preview.srcObject = null;
    ui.placeholder.hidden = false;
    ui.start.disabled = false;
    ui.stop.disabled = true;
    setPill(ui.wsState, 'server', 'idle');
    setPill(ui.pcState, 'video', 'idle');
  }

  ui.start.addEventListener('click', start);
  ui.stop.addEventListener('click', () => stop(true));
  window.addEventListener('pagehide', () => { if (run) stop(true); });
})();
