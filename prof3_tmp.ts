import { ServedModel } from "./model/model.ts";
import { createApp } from "./routes/app.ts";
import { DEFAULT_MODEL, DEFAULT_SERVER_CONFIG } from "./routes/config.ts";
const model = await ServedModel.load(DEFAULT_MODEL, {
  threads: 1,
  maxBatch: 16,
  maxQueuedRows: 100,
});
const app = createApp({ model, config: DEFAULT_SERVER_CONFIG });
for (let k = 0; k < 1500; k++) {
  const r = await app.request(`/v1/swap/${k}/${k + 1000}.png?concepts=0,1,2`);
  await r.arrayBuffer();
}
