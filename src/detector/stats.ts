// Inter-arrival statistics of one node's heartbeats on one ring, over a sliding window, and the
// phi-accrual timeout derived from them. Pure arithmetic: the detector feeds it arrival gaps, it
// never reads a clock.
//
// The window keeps the last N gaps in a ring buffer with running sums, so adding a sample and
// reading the mean and standard deviation cost O(1) however large the window is.

export class ArrivalStats {
  private readonly gaps: Float64Array;
  private next = 0;
  private count = 0;
  private sum = 0;
  private sumSq = 0;
  /** Largest gap ever seen (not only in the window): how bad the ring has been. */
  private maxGap = 0;

  constructor(window: number) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`stats window must be a positive integer, got ${window}`);
    this.gaps = new Float64Array(window);
  }

  add(gap: number): void {
    if (this.count === this.gaps.length) {
      const old = this.gaps[this.next] as number;
      this.sum -= old;
      this.sumSq -= old * old;
    } else this.count++;
    this.gaps[this.next] = gap;
    this.next = (this.next + 1) % this.gaps.length;
    this.sum += gap;
    this.sumSq += gap * gap;
    if (gap > this.maxGap) this.maxGap = gap;
  }

  get samples(): number {
    return this.count;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** Population standard deviation; running sums can go a hair negative, hence the clamp. */
  get stdDev(): number {
    if (this.count === 0) return 0;
    const m = this.sum / this.count;
    return Math.sqrt(Math.max(0, this.sumSq / this.count - m * m));
  }

  get max(): number {
    return this.maxGap;
  }
}

/**
 * The silence after which phi (Hayashibara et al., "The φ accrual failure detector", 2004)
 * reaches `threshold`, for gaps normally distributed with this mean and standard deviation:
 * phi(t) = -log10(P(gap > t)), so phi = threshold at t = mean + sd · z where P(Z > z) = 10^-threshold.
 * Threshold 8 means a false suspicion once in 10^8 gaps if the model holds (z ≈ 5.6).
 */
export function phiTimeout(mean: number, stdDev: number, threshold: number): number {
  return mean + stdDev * upperTailZ(10 ** -threshold);
}

/** z with P(Z > z) = p for a standard normal Z (0 < p < 1). */
export function upperTailZ(p: number): number {
  return -inverseNormalCdf(p);
}

// Peter Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9),
// with its three regions: lower tail, central, upper tail.
const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
const P_LOW = 0.02425;

function inverseNormalCdf(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`probability must be in (0, 1), got ${p}`);
  const [a0, a1, a2, a3, a4, a5] = A as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = B as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = C as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = D as [number, number, number, number];
  if (p < P_LOW) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  if (p > 1 - P_LOW) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
}
