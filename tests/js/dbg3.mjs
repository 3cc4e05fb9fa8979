import { WebSocketProvider, JsonRpcProvider, Wallet } from "ethers";
const ws = new WebSocketProvider("ws://127.0.0.1:33377", undefined, {staticNetwork: true, cacheTimeout: -1});
const http = new JsonRpcProvider("http://127.0.0.1:33377", undefined, {staticNetwork: true, pollingInterval: 200, cacheTimeout: -1});
for (const [name, p] of [["ws", ws], ["http", http]]) {
  const w = new Wallet("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a", p);
  let hang = 0;
  for (let i = 0; i < 30; i++) {
    const t = await w.sendTransaction({to: w.address, value: 1n});
    try { await t.wait(1, 3000); } catch (e) { hang++; }
  }
  console.log(name, "tx.wait hangs", hang, "of 30");
}
process.exit(0);
