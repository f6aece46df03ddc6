/**
 * keccak256 (Ethereum's pre-standard SHA-3) tuned for the short inputs of EIP-712 and address
 * derivation: one reusable state, an unrolled permutation over int32 locals and no per-call
 * allocation besides the 32-byte output. About 5x faster than a generic implementation on the
 * 66- and 128-byte inputs a balance proof needs (see bench/proofs.ts).
 */

const RATE = 136;
const RC = new Int32Array([
  1, 0, 32898, 0, 32906, -2147483648, -2147450880, -2147483648, 32907, 0, -2147483647, 0,
  -2147450751, -2147483648, 32777, -2147483648, 138, 0, 136, 0, -2147450871, 0, -2147483638, 0,
  -2147450741, 0, 139, -2147483648, 32905, -2147483648, 32771, -2147483648, 32770, -2147483648, 128,
  -2147483648, 32778, 0, -2147483638, -2147483648, -2147450751, -2147483648, 32896, -2147483648,
  -2147483647, 0, -2147450872, -2147483648,
]);
const state = new Int32Array(50);

/**
 * Hashes `data[start, end)` with keccak256 into `out[outOffset, outOffset + 32)`.
 * @returns `out` (a new 32-byte array when none is given).
 */
export function keccak256(
  data: Uint8Array,
  out: Uint8Array = new Uint8Array(32),
  outOffset = 0,
  start = 0,
  end = data.length,
): Uint8Array {
  const s = state;
  s.fill(0);
  let pos = start;
  // Full blocks.
  while (end - pos >= RATE) {
    absorbFull(s, data, pos);
    keccakF1600(s);
    pos += RATE;
  }
  // Last partial block with keccak padding (0x01 ... 0x80).
  const rem = end - pos;
  let w = 0;
  let i = 0;
  for (; i + 4 <= rem; i += 4, w++) {
    const p = pos + i;
    s[w] = s[w]! ^ (data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16) | (data[p + 3]! << 24));
  }
  let tail = 0;
  let shift = 0;
  for (; i < rem; i++, shift += 8) tail |= data[pos + i]! << shift;
  tail |= 0x01 << shift;
  s[w] = s[w]! ^ tail;
  s[33] = s[33]! ^ 0x80000000; // byte 135 of the rate (last byte), high bit
  keccakF1600(s);
  for (let j = 0; j < 8; j++) {
    const v = s[j]!;
    const o = outOffset + 4 * j;
    out[o] = v & 0xff;
    out[o + 1] = (v >>> 8) & 0xff;
    out[o + 2] = (v >>> 16) & 0xff;
    out[o + 3] = v >>> 24;
  }
  return out;
}

/**
 * keccak256 of bytes or of 0x-hex data, as lowercase 0x-hex (for ids and other cold paths).
 * @throws TypeError when a string is not 0x-prefixed hex of whole bytes.
 */
export function keccak256Hex(data: Uint8Array | string): `0x${string}` {
  let bytes: Uint8Array;
  if (typeof data === "string") {
    if (!/^0x([0-9a-fA-F]{2})*$/.test(data)) throw new TypeError("not 0x-hex of whole bytes");
    bytes = Buffer.from(data.slice(2), "hex");
  } else {
    bytes = data;
  }
  return `0x${Buffer.from(keccak256(bytes)).toString("hex")}`;
}

function absorbFull(s: Int32Array, data: Uint8Array, pos: number): void {
  for (let w = 0; w < 34; w++) {
    const p = pos + 4 * w;
    s[w] = s[w]! ^ (data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16) | (data[p + 3]! << 24));
  }
}

/** keccak-f[1600] on 25 lanes stored as (lo, hi) int32 pairs; generated, fully unrolled per round. */
function keccakF1600(s: Int32Array): void {
  let l0 = s[0]!,
    h0 = s[1]!,
    l1 = s[2]!,
    h1 = s[3]!,
    l2 = s[4]!,
    h2 = s[5]!,
    l3 = s[6]!,
    h3 = s[7]!,
    l4 = s[8]!,
    h4 = s[9]!,
    l5 = s[10]!,
    h5 = s[11]!,
    l6 = s[12]!,
    h6 = s[13]!,
    l7 = s[14]!,
    h7 = s[15]!,
    l8 = s[16]!,
    h8 = s[17]!,
    l9 = s[18]!,
    h9 = s[19]!,
    l10 = s[20]!,
    h10 = s[21]!,
    l11 = s[22]!,
    h11 = s[23]!,
    l12 = s[24]!,
    h12 = s[25]!,
    l13 = s[26]!,
    h13 = s[27]!,
    l14 = s[28]!,
    h14 = s[29]!,
    l15 = s[30]!,
    h15 = s[31]!,
    l16 = s[32]!,
    h16 = s[33]!,
    l17 = s[34]!,
    h17 = s[35]!,
    l18 = s[36]!,
    h18 = s[37]!,
    l19 = s[38]!,
    h19 = s[39]!,
    l20 = s[40]!,
    h20 = s[41]!,
    l21 = s[42]!,
    h21 = s[43]!,
    l22 = s[44]!,
    h22 = s[45]!,
    l23 = s[46]!,
    h23 = s[47]!,
    l24 = s[48]!,
    h24 = s[49]!;
  for (let round = 0; round < 24; round++) {
    const cl0 = l0 ^ l5 ^ l10 ^ l15 ^ l20;
    const ch0 = h0 ^ h5 ^ h10 ^ h15 ^ h20;
    const cl1 = l1 ^ l6 ^ l11 ^ l16 ^ l21;
    const ch1 = h1 ^ h6 ^ h11 ^ h16 ^ h21;
    const cl2 = l2 ^ l7 ^ l12 ^ l17 ^ l22;
    const ch2 = h2 ^ h7 ^ h12 ^ h17 ^ h22;
    const cl3 = l3 ^ l8 ^ l13 ^ l18 ^ l23;
    const ch3 = h3 ^ h8 ^ h13 ^ h18 ^ h23;
    const cl4 = l4 ^ l9 ^ l14 ^ l19 ^ l24;
    const ch4 = h4 ^ h9 ^ h14 ^ h19 ^ h24;
    const dl0 = cl4 ^ ((cl1 << 1) | (ch1 >>> 31));
    const dh0 = ch4 ^ ((ch1 << 1) | (cl1 >>> 31));
    const dl1 = cl0 ^ ((cl2 << 1) | (ch2 >>> 31));
    const dh1 = ch0 ^ ((ch2 << 1) | (cl2 >>> 31));
    const dl2 = cl1 ^ ((cl3 << 1) | (ch3 >>> 31));
    const dh2 = ch1 ^ ((ch3 << 1) | (cl3 >>> 31));
    const dl3 = cl2 ^ ((cl4 << 1) | (ch4 >>> 31));
    const dh3 = ch2 ^ ((ch4 << 1) | (cl4 >>> 31));
    const dl4 = cl3 ^ ((cl0 << 1) | (ch0 >>> 31));
    const dh4 = ch3 ^ ((ch0 << 1) | (cl0 >>> 31));
    const tl0 = l0 ^ dl0;
    const th0 = h0 ^ dh0;
    const bl0 = tl0;
    const bh0 = th0;
    const tl5 = l5 ^ dl0;
    const th5 = h5 ^ dh0;
    const bl16 = (th5 << 4) | (tl5 >>> 28);
    const bh16 = (tl5 << 4) | (th5 >>> 28);
    const tl10 = l10 ^ dl0;
    const th10 = h10 ^ dh0;
    const bl7 = (tl10 << 3) | (th10 >>> 29);
    const bh7 = (th10 << 3) | (tl10 >>> 29);
    const tl15 = l15 ^ dl0;
    const th15 = h15 ^ dh0;
    const bl23 = (th15 << 9) | (tl15 >>> 23);
    const bh23 = (tl15 << 9) | (th15 >>> 23);
    const tl20 = l20 ^ dl0;
    const th20 = h20 ^ dh0;
    const bl14 = (tl20 << 18) | (th20 >>> 14);
    const bh14 = (th20 << 18) | (tl20 >>> 14);
    const tl1 = l1 ^ dl1;
    const th1 = h1 ^ dh1;
    const bl10 = (tl1 << 1) | (th1 >>> 31);
    const bh10 = (th1 << 1) | (tl1 >>> 31);
    const tl6 = l6 ^ dl1;
    const th6 = h6 ^ dh1;
    const bl1 = (th6 << 12) | (tl6 >>> 20);
    const bh1 = (tl6 << 12) | (th6 >>> 20);
    const tl11 = l11 ^ dl1;
    const th11 = h11 ^ dh1;
    const bl17 = (tl11 << 10) | (th11 >>> 22);
    const bh17 = (th11 << 10) | (tl11 >>> 22);
    const tl16 = l16 ^ dl1;
    const th16 = h16 ^ dh1;
    const bl8 = (th16 << 13) | (tl16 >>> 19);
    const bh8 = (tl16 << 13) | (th16 >>> 19);
    const tl21 = l21 ^ dl1;
    const th21 = h21 ^ dh1;
    const bl24 = (tl21 << 2) | (th21 >>> 30);
    const bh24 = (th21 << 2) | (tl21 >>> 30);
    const tl2 = l2 ^ dl2;
    const th2 = h2 ^ dh2;
    const bl20 = (th2 << 30) | (tl2 >>> 2);
    const bh20 = (tl2 << 30) | (th2 >>> 2);
    const tl7 = l7 ^ dl2;
    const th7 = h7 ^ dh2;
    const bl11 = (tl7 << 6) | (th7 >>> 26);
    const bh11 = (th7 << 6) | (tl7 >>> 26);
    const tl12 = l12 ^ dl2;
    const th12 = h12 ^ dh2;
    const bl2 = (th12 << 11) | (tl12 >>> 21);
    const bh2 = (tl12 << 11) | (th12 >>> 21);
    const tl17 = l17 ^ dl2;
    const th17 = h17 ^ dh2;
    const bl18 = (tl17 << 15) | (th17 >>> 17);
    const bh18 = (th17 << 15) | (tl17 >>> 17);
    const tl22 = l22 ^ dl2;
    const th22 = h22 ^ dh2;
    const bl9 = (th22 << 29) | (tl22 >>> 3);
    const bh9 = (tl22 << 29) | (th22 >>> 3);
    const tl3 = l3 ^ dl3;
    const th3 = h3 ^ dh3;
    const bl5 = (tl3 << 28) | (th3 >>> 4);
    const bh5 = (th3 << 28) | (tl3 >>> 4);
    const tl8 = l8 ^ dl3;
    const th8 = h8 ^ dh3;
    const bl21 = (th8 << 23) | (tl8 >>> 9);
    const bh21 = (tl8 << 23) | (th8 >>> 9);
    const tl13 = l13 ^ dl3;
    const th13 = h13 ^ dh3;
    const bl12 = (tl13 << 25) | (th13 >>> 7);
    const bh12 = (th13 << 25) | (tl13 >>> 7);
    const tl18 = l18 ^ dl3;
    const th18 = h18 ^ dh3;
    const bl3 = (tl18 << 21) | (th18 >>> 11);
    const bh3 = (th18 << 21) | (tl18 >>> 11);
    const tl23 = l23 ^ dl3;
    const th23 = h23 ^ dh3;
    const bl19 = (th23 << 24) | (tl23 >>> 8);
    const bh19 = (tl23 << 24) | (th23 >>> 8);
    const tl4 = l4 ^ dl4;
    const th4 = h4 ^ dh4;
    const bl15 = (tl4 << 27) | (th4 >>> 5);
    const bh15 = (th4 << 27) | (tl4 >>> 5);
    const tl9 = l9 ^ dl4;
    const th9 = h9 ^ dh4;
    const bl6 = (tl9 << 20) | (th9 >>> 12);
    const bh6 = (th9 << 20) | (tl9 >>> 12);
    const tl14 = l14 ^ dl4;
    const th14 = h14 ^ dh4;
    const bl22 = (th14 << 7) | (tl14 >>> 25);
    const bh22 = (tl14 << 7) | (th14 >>> 25);
    const tl19 = l19 ^ dl4;
    const th19 = h19 ^ dh4;
    const bl13 = (tl19 << 8) | (th19 >>> 24);
    const bh13 = (th19 << 8) | (tl19 >>> 24);
    const tl24 = l24 ^ dl4;
    const th24 = h24 ^ dh4;
    const bl4 = (tl24 << 14) | (th24 >>> 18);
    const bh4 = (th24 << 14) | (tl24 >>> 18);
    l0 = bl0 ^ (~bl1 & bl2);
    h0 = bh0 ^ (~bh1 & bh2);
    l1 = bl1 ^ (~bl2 & bl3);
    h1 = bh1 ^ (~bh2 & bh3);
    l2 = bl2 ^ (~bl3 & bl4);
    h2 = bh2 ^ (~bh3 & bh4);
    l3 = bl3 ^ (~bl4 & bl0);
    h3 = bh3 ^ (~bh4 & bh0);
    l4 = bl4 ^ (~bl0 & bl1);
    h4 = bh4 ^ (~bh0 & bh1);
    l5 = bl5 ^ (~bl6 & bl7);
    h5 = bh5 ^ (~bh6 & bh7);
    l6 = bl6 ^ (~bl7 & bl8);
    h6 = bh6 ^ (~bh7 & bh8);
    l7 = bl7 ^ (~bl8 & bl9);
    h7 = bh7 ^ (~bh8 & bh9);
    l8 = bl8 ^ (~bl9 & bl5);
    h8 = bh8 ^ (~bh9 & bh5);
    l9 = bl9 ^ (~bl5 & bl6);
    h9 = bh9 ^ (~bh5 & bh6);
    l10 = bl10 ^ (~bl11 & bl12);
    h10 = bh10 ^ (~bh11 & bh12);
    l11 = bl11 ^ (~bl12 & bl13);
    h11 = bh11 ^ (~bh12 & bh13);
    l12 = bl12 ^ (~bl13 & bl14);
    h12 = bh12 ^ (~bh13 & bh14);
    l13 = bl13 ^ (~bl14 & bl10);
    h13 = bh13 ^ (~bh14 & bh10);
    l14 = bl14 ^ (~bl10 & bl11);
    h14 = bh14 ^ (~bh10 & bh11);
    l15 = bl15 ^ (~bl16 & bl17);
    h15 = bh15 ^ (~bh16 & bh17);
    l16 = bl16 ^ (~bl17 & bl18);
    h16 = bh16 ^ (~bh17 & bh18);
    l17 = bl17 ^ (~bl18 & bl19);
    h17 = bh17 ^ (~bh18 & bh19);
    l18 = bl18 ^ (~bl19 & bl15);
    h18 = bh18 ^ (~bh19 & bh15);
    l19 = bl19 ^ (~bl15 & bl16);
    h19 = bh19 ^ (~bh15 & bh16);
    l20 = bl20 ^ (~bl21 & bl22);
    h20 = bh20 ^ (~bh21 & bh22);
    l21 = bl21 ^ (~bl22 & bl23);
    h21 = bh21 ^ (~bh22 & bh23);
    l22 = bl22 ^ (~bl23 & bl24);
    h22 = bh22 ^ (~bh23 & bh24);
    l23 = bl23 ^ (~bl24 & bl20);
    h23 = bh23 ^ (~bh24 & bh20);
    l24 = bl24 ^ (~bl20 & bl21);
    h24 = bh24 ^ (~bh20 & bh21);
    l0 ^= RC[2 * round]!;
    h0 ^= RC[2 * round + 1]!;
  }
  s[0] = l0;
  s[1] = h0;
  s[2] = l1;
  s[3] = h1;
  s[4] = l2;
  s[5] = h2;
  s[6] = l3;
  s[7] = h3;
  s[8] = l4;
  s[9] = h4;
  s[10] = l5;
  s[11] = h5;
  s[12] = l6;
  s[13] = h6;
  s[14] = l7;
  s[15] = h7;
  s[16] = l8;
  s[17] = h8;
  s[18] = l9;
  s[19] = h9;
  s[20] = l10;
  s[21] = h10;
  s[22] = l11;
  s[23] = h11;
  s[24] = l12;
  s[25] = h12;
  s[26] = l13;
  s[27] = h13;
  s[28] = l14;
  s[29] = h14;
  s[30] = l15;
  s[31] = h15;
  s[32] = l16;
  s[33] = h16;
  s[34] = l17;
  s[35] = h17;
  s[36] = l18;
  s[37] = h18;
  s[38] = l19;
  s[39] = h19;
  s[40] = l20;
  s[41] = h20;
  s[42] = l21;
  s[43] = h21;
  s[44] = l22;
  s[45] = h22;
  s[46] = l23;
  s[47] = h23;
  s[48] = l24;
  s[49] = h24;
}
