// kling-api 1.0.0, unchanged, against openkling's /v1/images/generations: generateImage from
// text alone and with a reference image (a local file, which the package sends as base64),
// each waited for with waitForImageResult and saved with saveImageResult; then the image task
// list through the package's own HTTP client. Prints one JSON report.
import { KlingAPI } from 'kling-api';

const env = process.env;
const api = new KlingAPI({
  accessKey: env.KLING_ACCESS_KEY,
  secretKey: env.KLING_SECRET_KEY,
  baseUrl: env.KLING_BASE_URL,
});
const wait = { interval: 300, timeout: 180000, showSpinner: false };
const report = {};

async function done(name, created) {
  const result = await api.waitForImageResult(created.data.task_id, undefined, wait);
  const files = await api.saveImageResult(result, `${env.OUT_DIR}/${name}`, name);
  report[name] = { created: created.data, result: result.data, files };
}

await done(
  'text',
  await api.generateImage({ prompt: 'a red kite over green hills', n: 2, aspect_ratio: '1:1' }),
);
await done(
  'reference',
  await api.generateImage({
    prompt: 'the same scene in autumn',
    image: env.REFERENCE,
    image_fidelity: 1,
    aspect_ratio: '16:9',
  }),
);
const list = await api.httpClient.request('GET', '/v1/images/generations?pageNum=1&pageSize=30');
report.list = list.data.map((task) => task.task_id);
console.log(JSON.stringify(report));
