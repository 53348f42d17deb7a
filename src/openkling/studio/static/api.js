// The public API, as any client sees it: bearer auth (an API key, or an HS256 token signed
// here with WebCrypto), the Kling envelope, and server-sent events read with fetch().

const encoder = new TextEncoder();

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function jsonPart(value) {
  return base64url(encoder.encode(JSON.stringify(value)));
}

export class ApiError extends Error {
  constructor(message, { status = 0, code = null, requestId = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

// Credentials: { apiKey } or { accessKey, secretKey }.
export class Credentials {
  constructor({ apiKey = "", accessKey = "", secretKey = "" } = {}) {
    this.apiKey = apiKey.trim();
    this.accessKey = accessKey.trim();
    this.secretKey = secretKey.trim();
    this._token = null;
    this._expires = 0;
  }

  get usesJwt() {
    return !this.apiKey;
  }

  toJSON() {
    return this.apiKey
      ? { apiKey: this.apiKey }
      : { accessKey: this.accessKey, secretKey: this.secretKey };
  }

  async token() {
    if (this.apiKey) return this.apiKey;
    const now = Math.floor(Date.now() / 1000);
    if (this._token && now < this._expires - 60) return this._token;
    if (!globalThis.crypto || !crypto.subtle) {
      throw new ApiError(
        "Signing a token needs a secure page (https, or http on localhost). Use the API key instead.",
      );
    }
    const header = { alg: "HS256", typ: "JWT" };
    const claims = { iss: this.accessKey, exp: now + 1800, nbf: now - 5 };
    const unsigned = `${jsonPart(header)}.${jsonPart(claims)}`;
    const key = await crypto.subtle.importKey(
      "raw",
      encoder.encode(this.secretKey),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const signature = await crypto.subtle.sign("HMAC", key, encoder.encode(unsigned));
    this._token = `${unsigned}.${base64url(new Uint8Array(signature))}`;
    this._expires = claims.exp;
    return this._token;
  }
}

export class Api {
  constructor(credentials) {
    this.credentials = credentials;
  }

  async headers(extra = {}) {
    return { Authorization: `Bearer ${await this.credentials.token()}`, ...extra };
  }

  // One call; returns `data` of the envelope or throws ApiError with the server's message.
  async request(method, path, body) {
    const init = { method, headers: await this.headers({ Accept: "application/json" }) };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw new ApiError(`Cannot reach the server: ${error.message}`);
    }
    let envelope = null;
    try {
      envelope = await response.json();
    } catch {
      envelope = null;
    }
    const failed = !response.ok || (envelope && envelope.code !== undefined && envelope.code !== 0);
    if (failed) {
      const message =
        (envelope && (envelope.message || envelope.msg)) ||
        `The server answered HTTP ${response.status}`;
      throw new ApiError(message, {
        status: response.status,
        code: envelope ? envelope.code : null,
        requestId: envelope ? envelope.request_id : response.headers.get("x-request-id"),
      });
    }
    return envelope ? envelope.data : null;
  }

  // Server-sent events from `path`: calls onEvent(name, data) for each event. Resolves when
  // the server ends the stream; throws ApiError when it refuses it (404: no events here).
  async stream(path, onEvent, signal) {
    const response = await fetch(path, {
      headers: await this.headers({ Accept: "text/event-stream" }),
      signal,
      cache: "no-store",
    });
    if (!response.ok || !response.body) {
      let message = `The server answered HTTP ${response.status}`;
      try {
        message = (await response.json()).message || message;
      } catch {
        // not JSON: keep the status line
      }
      throw new ApiError(message, { status: response.status });
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (!line || line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") name = text;
          else if (field === "data") data.push(text);
        }
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      }
    }
  }
}
