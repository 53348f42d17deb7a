// kling-api 1.0.0, unchanged, against openkling: extendVideo, multiImageToVideo and the
// effects door (which the package reaches through its own HTTP client), each waited for with
// the package's poller and downloaded with its saveVideoResult. Prints one JSON report.
import { KlingAPI } from 'kling-api';
import { readFileSync } from 'node:fs';

const env = process.env;
const api = new KlingAPI({
  accessKey: env.KLING_ACCESS_KEY,
  secretKey: env.KLING_SECRET_KEY,
  baseUrl: env.KLING_BASE_URL,
});
const out = env.OUT_DIR;
// (the package's ./utils export names a file it does not ship: files are read here)
const imageToBase64 = async (path) => readFileSync(path).toString('base64');
const wait = { interval: 300, timeout: 180000, showSpinner: false };
const report = {};

async function done(name, created, query) {
  const result = await api.waitForVideoResult(created.data.task_id, query, wait);
  const files = await api.saveVideoResult(result, `${out}/${name}`, name);
  report[name] = { created: created.data, result: result.data, files };
  return result;
}

// a video to extend, then its extension (the package's own poller and downloader)
const parent = await done(
  'text2video',
  await api.textToVideo({ prompt: 'a lighthouse at dusk', model_name: 'kling-v1-6' }),
  api.queryTextToVideoTask.bind(api),
);
await done(
  'extend',
  await api.extendVideo({
    video_id: parent.data.task_result.videos[0].id,
    prompt: 'the lighthouse lamp turns on',
  }),
  api.queryExtendVideoTask.bind(api),
);

// multi-image: local files, which the package turns into raw base64
await done(
  'multi',
  await api.multiImageToVideo({
    prompt: 'three friends at the seaside',
    image_list: env.REFERENCES.split(',').map((image) => ({ image })),
    duration: '5',
    mode: 'std',
  }),
  api.queryMultiImageToVideoTask.bind(api),
);

// effects: the package has no method for them; its HTTP client (auth, errors) posts them
const effect = (body) => api.httpClient.request('POST', '/v1/videos/effects', body);
const queryEffect = (id) => api.httpClient.request('GET', `/v1/videos/effects/${id}`);
await done(
  'zoom_out',
  await effect({ effect_scene: 'zoom_out', input: { image: await imageToBase64(env.SINGLE) } }),
  queryEffect,
);
const [left, right] = env.PAIR.split(',');
await done(
  'hug_pro',
  await effect({
    effect_scene: 'hug_pro',
    input: { images: [await imageToBase64(left), await imageToBase64(right)] },
  }),
  queryEffect,
);

// a refused request surfaces as the package's KlingAPIError with Kling's code
try {
  await effect({ effect_scene: 'fly_to_mars', input: { image: await imageToBase64(env.SINGLE) } });
  report.refused = null;
} catch (error) {
  report.refused = { code: error.code, status: error.httpStatus, message: error.message };
}
console.log(JSON.stringify(report));
