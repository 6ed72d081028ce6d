import { equal } from "node:assert/strict";
import { valueAndGrad } from "./autograd.ts";
import { initEngine } from "./engine.ts";
import { mul, relu } from "./ops/elementwise.ts";
import { sum } from "./ops/reduce.ts";
import { liveTensorCount, scope, tensor } from "./tensor.ts";

await initEngine();

Deno.test("gradients reach every input, data as well as parameters", async () => {
  const x = tensor([1, -2, 3], [3]), w = tensor([0.5, 2, -1], [3]);
  const { value, grads: [gx, gw] } = valueAndGrad(() => sum(mul(relu(x), w)), [x, w]);
  equal(await value.item(), 0.5 - 3);
  equal((await gx.data()).join(), [0.5, 0, -1].join());
  equal((await gw.data()).join(), [1, 0, 3].join());
  for (const t of [x, w, value, gx, gw]) t.dispose();
});

Deno.test("a scope inside the differentiated function does not free what backward needs", async () => {
  const x = tensor([1, 2, 3], [3]);
  const before = liveTensorCount();
  const { value, grads: [g] } = valueAndGrad(() => {
    // relu's backward reads its input, created by an inner scope that ends before backward.
    const h = scope(() => relu(mul(x, 2)));
    return sum(mul(h, h));
  }, [x]);
  equal((await g.data()).join(), [8, 16, 24].join());
  value.dispose();
  g.dispose();
  equal(liveTensorCount(), before, "everything else is freed after the gradients");
  x.dispose();
});

Deno.test("a target the value does not depend on gets a zero gradient", async () => {
  const x = tensor([1, 2], [2]), unused = tensor([5], [1]);
  const { value, grads: [gu] } = valueAndGrad(() => sum(x), [unused]);
  equal((await gu.data()).join(), "0");
  for (const t of [x, unused, value, gu]) t.dispose();
});

Deno.test("a nested differentiation sees outer values as constants and frees its temporaries", async () => {
  const x = tensor([2], [1]), w = tensor([3], [1]);
  const before = liveTensorCount();
  const { value, grads: [gx] } = valueAndGrad(() => {
    const y = mul(x, x); // recorded on the outer tape
    const inner = valueAndGrad(() => sum(mul(y, w)), [w]); // y is a constant in here
    return sum(mul(y, inner.grads[0])); // inner gradient = y = 4, a constant outside too
  }, [x]);
  equal((await value.data())[0], 16);
  equal((await gx.data())[0], 16); // d/dx [x^2 * 4] = 8x
  value.dispose();
  gx.dispose();
  equal(liveTensorCount(), before);
  x.dispose();
  w.dispose();
});
