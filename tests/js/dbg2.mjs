import { WebSocketProvider, JsonRpcProvider, Wallet } from "ethers";
const ws = new WebSocketProvider("ws://127.0.0.1:33377", undefined, {staticNetwork: true, cacheTimeout: -1});
const http = new JsonRpcProvider("http://127.0.0.1:33377", undefined, {staticNetwork: true, pollingInterval: 200});
for (const [name, p] of [["ws", ws], ["http", http]]) {
  const w = new Wallet("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d", p);
  let hang = 0;
  for (let i = 0; i < 10; i++) {
    const t = await w.sendTransaction({to: w.address, value: 1n});
    try { await p.waitForTransaction(t.hash, 1, 3000); } catch (e) { hang++; }
  }
  console.log(name, "hangs", hang, "of 10");
}
process.exit(0);
