// Prints the test ERC20 (OpenZeppelin, compiled offline with solc-js) as JSON
// `{"abi": [...], "bytecode": "0x..."}`, for the clients that are not JavaScript (web3.py,
// cast) so every client deploys the same contract.
import { compileToken } from "./lib.mjs";

process.stdout.write(JSON.stringify(compileToken()) + "\n");
