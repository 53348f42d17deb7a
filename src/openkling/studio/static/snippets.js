// Copyable examples that make a task again: curl, the Python SDK, and the seed's JWT style.

function shellQuote(text) {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

// A JSON value written as a Python literal (True/False/None; JSON strings are Python strings).
export function pyLiteral(value, indent = "") {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number" || typeof value === "string") return JSON.stringify(value);
  const inner = `${indent}    `;
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return `[\n${value.map((v) => `${inner}${pyLiteral(v, inner)},`).join("\n")}\n${indent}]`;
  }
  const entries = Object.entries(value);
  if (!entries.length) return "{}";
  return `{\n${entries
    .map(([k, v]) => `${inner}${JSON.stringify(k)}: ${pyLiteral(v, inner)},`)
    .join("\n")}\n${indent}}`;
}

function endpoint(family) {
  return `/v1/videos/${family}`;
}

export function curlExample(origin, family, body) {
  return [
    `curl -X POST ${origin}${endpoint(family)} \\`,
    `  -H "Authorization: Bearer $KLING_SECRET_KEY" \\`,
    `  -H "Content-Type: application/json" \\`,
    `  -d ${shellQuote(JSON.stringify(body, null, 2))}`,
  ].join("\n");
}

const SDK_ARGS = [
  "model_name", "prompt", "negative_prompt", "duration", "aspect_ratio", "mode", "cfg_scale",
  "camera_control", "sound", "image", "image_tail",
];

export function pythonExample(origin, family, body) {
  const args = [];
  const extra = {};
  for (const [key, value] of Object.entries(body)) {
    if (SDK_ARGS.includes(key)) args.push(`    ${key}=${pyLiteral(value, "    ")},`);
    else extra[key] = value;
  }
  if (Object.keys(extra).length) args.push(`    extra_body=${pyLiteral(extra, "    ")},`);
  return [
    "from openkling.client import Kling",
    "",
    "# Keys from KLING_ACCESS_KEY and KLING_SECRET_KEY (or KLING_API_KEY).",
    `client = Kling(base_url=${JSON.stringify(origin)})`,
    `task = client.${family}.create_and_wait(`,
    ...args,
    ")",
    `print(client.${family}.download(task))`,
  ].join("\n");
}

export function jwtExample(origin, family, body) {
  return [
    "import os",
    "import time",
    "",
    "import jwt",
    "import requests",
    "",
    `BASE = ${JSON.stringify(`${origin}/v1`)}`,
    "",
    "",
    "def get_headers():",
    '    ak, sk = os.environ["KLING_ACCESS_KEY"], os.environ["KLING_SECRET_KEY"]',
    "    token = jwt.encode(",
    '        {"iss": ak, "exp": int(time.time()) + 1800, "nbf": int(time.time()) - 5},',
    "        sk,",
    '        algorithm="HS256",',
    '        headers={"alg": "HS256", "typ": "JWT"},',
    "    )",
    '    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}',
    "",
    "",
    `body = ${pyLiteral(body)}`,
    `response = requests.post(f"{BASE}/videos/${family}", headers=get_headers(), json=body)`,
    'task_id = response.json()["data"]["task_id"]',
    "while True:",
    "    time.sleep(5)",
    `    result = requests.get(f"{BASE}/videos/${family}/{task_id}", headers=get_headers()).json()`,
    '    status = result["data"]["task_status"]',
    '    if status == "succeed":',
    '        print("Video URL:", result["data"]["task_result"]["videos"][0]["url"])',
    "        break",
    '    if status == "failed":',
    '        raise RuntimeError(result["data"]["task_status_msg"])',
  ].join("\n");
}
