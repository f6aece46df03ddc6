/** Hands out consecutive nonces to many concurrent transactions from one account. */
import type { Signer } from "ethers";

/**
 * Transactions are prepared and broadcast one at a time (so a failed gas estimate never burns a
 * nonce), while confirmations are awaited outside the lane, so many stay in flight at once.
 */
export class NonceLane {
  readonly #signer: Signer;
  #next: number | undefined;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(signer: Signer) {
    this.#signer = signer;
  }

  /** Runs `broadcast(nonce)` in turn; the nonce is consumed only if it resolves. */
  run<T>(broadcast: (nonce: number) => Promise<T>): Promise<T> {
    const turn = this.#tail.then(async () => {
      this.#next ??= await this.#signer.getNonce("pending");
      try {
        const out = await broadcast(this.#next);
        this.#next++;
        return out;
      } catch (err) {
        // The node may have taken it or not; ask again next time rather than guess.
        this.#next = undefined;
        throw err;
      }
    });
    this.#tail = turn.catch(() => undefined);
    return turn;
  }
}
