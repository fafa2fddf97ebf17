// Camera scanning for phones and tablets: the browser's BarcodeDetector, else the bundled ZXing.
"use strict";
(() => {
  const button = document.getElementById("camera-toggle");
  const video = document.getElementById("camera");
  if (!button || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  button.hidden = false;
  let stream = null;
  let reader = null;
  let last = { code: "", at: 0 };

  function found(code) {
    const now = Date.now();
    const seenLately = code === last.code && now - last.at < 2500;
    last = { code, at: now };
    // A label held in view keeps being seen: count it once, until it has left the frame.
    if (seenLately) return;
    window.reemploiScan(code);
  }

  async function withDetector() {
    const detector = new BarcodeDetector({ formats: ["code_128", "qr_code"] });
    const tick = async () => {
      if (!stream) return;
      try {
        for (const barcode of await detector.detect(video)) found(barcode.rawValue);
      } catch (error) { /* frame not ready */ }
      setTimeout(tick, 150);
    };
    tick();
  }

  function loadZxing() {
    return new Promise((resolve, reject) => {
      if (window.ZXing) return resolve(window.ZXing);
      const script = document.createElement("script");
      script.src = "/static/vendor/zxing-library-0.21.3.min.js";
      script.onload = () => resolve(window.ZXing);
      script.onerror = reject;
      document.head.append(script);
    });
  }

  async function withZxing() {
    const ZXing = await loadZxing();
    const hints = new Map([[ZXing.DecodeHintType.POSSIBLE_FORMATS, [ZXing.BarcodeFormat.CODE_128, ZXing.BarcodeFormat.QR_CODE]]]);
    reader = new ZXing.BrowserMultiFormatReader(hints);
    reader.decodeFromStream(stream, video, (result) => { if (result) found(result.getText()); });
  }

  async function start() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (error) {
      const texts = JSON.parse(document.getElementById("scan-texts").textContent);
      alert(texts.camera_unavailable);
      return;
    }
    video.hidden = false;
    if ("BarcodeDetector" in window) {
      video.srcObject = stream;
      await video.play();
      await withDetector();
    } else {
      await withZxing(); // ZXing attaches the stream to the video itself
    }
  }

  function stop() {
    if (reader) { reader.reset(); reader = null; }
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.hidden = true;
  }

  button.addEventListener("click", () => (stream ? stop() : start()));
})();
