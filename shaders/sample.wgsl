// Fused next-token sampling: temperature, constraint mask, arg-max / top-k / top-p and the
// draw, for a batch of rows, so that only token ids (and status codes) leave the GPU.
//
// One workgroup of WG invocations (an override, 128 by default) samples one row; dispatch
// `batch` workgroups.
//
// The kernel reproduces the CPU sampler (`crates/leitmotif_model/src/sampling.rs`) step by
// step; only the arithmetic differs (f32 here, f64 there):
//
//   1. Candidates: tokens whose mask bit is set and whose logit is not -inf. An allowed NaN
//      or +inf logit is an error (the lowest such id is reported, as the CPU's in-order scan
//      does); no candidate at all is an error.
//   2. Order: logit descending, ties by the lower id. Logits are compared through their bit
//      patterns mapped to an order-preserving u32, which is exactly `f32::total_cmp` (so +0.0
//      ranks above -0.0, as on the CPU), and never relies on float comparison of special
//      values.
//   3. Arg-max: the first candidate. Top-k keeps the first min(k, n) candidates; top-p keeps
//      the shortest prefix whose softmax mass reaches p (all of them if rounding never gets
//      there). Top-p with a k (not 0) first keeps the first min(k, n) candidates and takes
//      the mass over those: the composer's "top-k, then top-p", where the CPU narrows the
//      mask to the k likeliest allowed tokens before sampling.
//   4. Weights exp((logit - max) / temperature) over the candidates (max = the first one's
//      logit, so every weight is in [0, 1] and the first is exactly 1). The CPU normalises
//      the weights before the cut and the draw; here the comparisons are scaled instead
//      (mass >= p  <=>  prefix >= p * total), which is the same in exact arithmetic.
//   5. Draw with the supplied uniform u in [0, 1): target = u * (kept mass); the result is
//      the first kept candidate whose inclusive prefix mass exceeds the target (the CPU walks
//      the candidates subtracting weights, which is the same test), and the last kept
//      candidate if rounding left none.
//
// Why a bitonic sort in workgroup memory (and not a rank or threshold search): top-p needs
// prefix sums in sorted order over an unknown number of candidates, and the draw needs the
// same order again. Sorting the compacted candidate ids once gives both with O(log^2 n)
// barrier phases (45 phases for our 433-token vocabulary: n <= 512), and it reproduces the
// CPU's tie-break exactly. A threshold search (binary search on the 32-bit key plus the id)
// would need ~44 workgroup reductions for each of the cut and the draw, i.e. several hundred
// barriers per row, and its sums would be re-associated on every probe. Only ids are sorted
// (4 bytes per entry, keys are re-read from the logits buffer, where they stay cached), so a
// 2048-entry sort needs 8 KiB of workgroup memory. Only the candidates that survive the
// mask are sorted, so a grammar mask that allows a handful of tokens sorts a handful.
// Arg-max (and any row that keeps a single candidate: top-k with k = 1, or one token
// allowed) skips the sort: two atomic passes find the maximum key and then the lowest id
// holding it.
//
// Prefix sums: invocation t owns a contiguous chunk of ceil(m / WG) sorted positions (at
// most 16), sums it sequentially, then the WG chunk sums are scanned (Hillis-Steele, in
// workgroup memory). The prefix mass of position i is (exclusive scan of its chunk) + (local
// sequential prefix), computed once and kept in a private array, so every use (the top-p cut,
// the kept total, the draw) sees bit-identical values.
//
// Status codes (results[row].y) and what the other fields hold:
//   0 ok                 x = token id
//   1 every token masked (or -inf)
//   2 non-finite logit   x = lowest allowed id whose logit is NaN or +inf, z = its bits
//   3 k is 0 (top-k)
//   4 p outside (0, 1] (top-p)
//   5 temperature not finite and above zero (top-k, top-p)
//   6 unknown mode
// Errors come in the CPU sampler's order: logit errors first, then parameters, which arg-max
// never checks.

// ---- Bindings -------------------------------------------------------------------------------

struct Dims {
    // Rows to sample; workgroups with a higher id do nothing.
    batch: u32,
    // Logits per row (the vocabulary size).
    vocab: u32,
    // u32 words per mask row: ceil(vocab / 32).
    mask_words: u32,
    // Offset, in f32 elements, of row 0's first logit inside the `logits` binding.
    logits_offset: u32,
    // Distance, in f32 elements, between the first logits of consecutive rows (>= vocab).
    row_stride: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct RowParams {
    // 0 arg-max, 1 top-k, 2 top-p.
    mode: u32,
    // Top-k's k (saturated to u32::MAX by the host); for top-p, a top-k cut before it (0:
    // none).
    k: u32,
    // Top-p's p, as f32 bits.
    p_bits: u32,
    // Temperature, as f32 bits.
    temperature_bits: u32,
    // The uniform draw in [0, 1), as f32 bits.
    uniform_bits: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Logits as raw f32 bits: NaN and infinity tests are done on bits, since WGSL lets an
// implementation assume float operands are finite.
@group(0) @binding(0) var<storage, read> logits: array<u32>;
// Constraint masks, `mask_words` per row; bit (i % 32) of word (i / 32) set = token i allowed.
@group(0) @binding(1) var<storage, read> masks: array<u32>;
@group(0) @binding(2) var<storage, read> params: array<RowParams>;
@group(0) @binding(3) var<uniform> dims: Dims;
// Per row: (token, status, detail, 0).
@group(0) @binding(4) var<storage, read_write> results: array<vec4<u32>>;

// ---- Constants ------------------------------------------------------------------------------

// Invocations per workgroup. Every phase below ends in a barrier, and software rasterisers
// (lavapipe) run a workgroup as WG / SIMD-width fibres that all switch at each barrier, so a
// smaller workgroup is cheaper there; on GPUs 128 invocations already give each one only
// two compare-exchanges per sort phase for our vocabulary. The host sets it (128, or 256
// for a sort capacity above 2048).
override WG: u32 = 128u;
// Largest number of sorted positions one invocation owns (SORT_CAPACITY <= 16 * WG).
const CHUNK_MAX: u32 = 16u;
// Sort capacity: a power of two >= the vocabulary size. The host sets it per pipeline from the
// vocabulary (and checks it against the device's workgroup-memory limit).
override SORT_CAPACITY: u32 = 2048u;

const MODE_ARGMAX: u32 = 0u;
const MODE_TOP_K: u32 = 1u;
const MODE_TOP_P: u32 = 2u;

const STATUS_OK: u32 = 0u;
const STATUS_ALL_MASKED: u32 = 1u;
const STATUS_NON_FINITE: u32 = 2u;
const STATUS_BAD_K: u32 = 3u;
const STATUS_BAD_P: u32 = 4u;
const STATUS_BAD_TEMPERATURE: u32 = 5u;
const STATUS_BAD_MODE: u32 = 6u;

const NONE: u32 = 0xffffffffu;
// Padding in the sort; ranks after every candidate.
const SENTINEL: u32 = 0xffffffffu;
const NEG_INF_BITS: u32 = 0xff800000u;
const EXP_BITS: u32 = 0x7f800000u;
const ONE_BITS: u32 = 0x3f800000u;
const MAX_FINITE_BITS: u32 = 0x7f7fffffu;
// The largest f32 below 1.
const ONE_MINUS_ULP: f32 = 0.99999994;

// ---- Workgroup memory -----------------------------------------------------------------------

// Candidate ids: compacted (in arbitrary order), then sorted best first.
var<workgroup> ids: array<u32, SORT_CAPACITY>;
// Chunk sums, then their inclusive scan.
var<workgroup> scan: array<f32, WG>;
var<workgroup> wg_count: atomic<u32>;
var<workgroup> wg_bad: atomic<u32>;
var<workgroup> wg_best_key: atomic<u32>;
// Lowest position satisfying a test (arg-max id, top-p cut, drawn position).
var<workgroup> wg_first: atomic<u32>;
// Plain copies of the atomics above, for workgroupUniformLoad (which needs a non-atomic).
var<workgroup> wg_count_u: u32;
var<workgroup> wg_bad_u: u32;
var<workgroup> wg_first_u: u32;
// Prefix mass broadcast by the invocation that owns a position.
var<workgroup> wg_mass: f32;

// ---- Helpers --------------------------------------------------------------------------------

// Order-preserving map of f32 bits to u32: a larger key is a larger float in `total_cmp`'s
// order (negative floats have their bits inverted, positive ones their sign bit set).
fn order_key(bits: u32) -> u32 {
    return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

fn logit_bits(base: u32, id: u32) -> u32 {
    return logits[base + id];
}

// Whether candidate `a` ranks before candidate `b`: higher logit first, lower id among ties;
// the sentinel ranks after everything.
fn ranks_before(base: u32, a: u32, b: u32) -> bool {
    if (a == SENTINEL) {
        return false;
    }
    if (b == SENTINEL) {
        return true;
    }
    let ka = order_key(logit_bits(base, a));
    let kb = order_key(logit_bits(base, b));
    return ka > kb || (ka == kb && a < b);
}

// exp((l - m) / t) for l <= m, t > 0, without overflow: the difference is taken at half
// scale (exact scaling, so it rounds exactly like l - m), and anything below e^-104 (under
// f32's smallest subnormal) is 0 without dividing, so a tiny or flushed-to-zero temperature
// never divides by zero.
fn weight(l: f32, m: f32, t: f32) -> f32 {
    if (l == m) {
        return 1.0;
    }
    let half_diff = 0.5 * l - 0.5 * m;
    if (half_diff * (1.0 / 52.0) < -t) {
        return 0.0;
    }
    return exp((half_diff / t) * 2.0);
}

fn write_result(row: u32, lid: u32, token: u32, status: u32, detail: u32) {
    if (lid == 0u) {
        results[row] = vec4<u32>(token, status, detail, 0u);
    }
}

// ---- Kernel ---------------------------------------------------------------------------------

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg_id: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = wg_id.x;
    if (row >= dims.batch) {
        return;
    }
    let vocab = dims.vocab;
    let base = dims.logits_offset + row * dims.row_stride;
    let mask_base = row * dims.mask_words;
    let prm = params[row];

    if (lid == 0u) {
        atomicStore(&wg_count, 0u);
        atomicStore(&wg_bad, NONE);
        atomicStore(&wg_best_key, 0u);
        atomicStore(&wg_first, NONE);
    }
    workgroupBarrier();

    // 1. Candidates: compact the allowed, not -inf ids; note the lowest non-finite one and
    //    the largest key. Key 0 belongs to a NaN pattern only, so it means "none yet".
    var local_best = 0u;
    for (var i = lid; i < vocab; i += WG) {
        let word = masks[mask_base + (i >> 5u)];
        if (((word >> (i & 31u)) & 1u) == 0u) {
            continue;
        }
        let bits = logit_bits(base, i);
        if (bits == NEG_INF_BITS) {
            continue;
        }
        if ((bits & 0x7fffffffu) >= EXP_BITS) {
            atomicMin(&wg_bad, i);
            continue;
        }
        let slot = atomicAdd(&wg_count, 1u);
        if (slot < SORT_CAPACITY) {
            ids[slot] = i;
        }
        local_best = max(local_best, order_key(bits));
    }
    atomicMax(&wg_best_key, local_best);
    workgroupBarrier();
    if (lid == 0u) {
        wg_count_u = atomicLoad(&wg_count);
        wg_bad_u = atomicLoad(&wg_bad);
    }
    let n = min(workgroupUniformLoad(&wg_count_u), SORT_CAPACITY);
    let bad = workgroupUniformLoad(&wg_bad_u);

    // 2. Errors, in the CPU sampler's order.
    if (bad != NONE) {
        write_result(row, lid, bad, STATUS_NON_FINITE, logit_bits(base, bad));
        return;
    }
    if (n == 0u) {
        write_result(row, lid, 0u, STATUS_ALL_MASKED, 0u);
        return;
    }
    var m = n;
    if (prm.mode == MODE_TOP_K) {
        if (prm.k == 0u) {
            write_result(row, lid, 0u, STATUS_BAD_K, 0u);
            return;
        }
        m = min(prm.k, n);
    } else if (prm.mode == MODE_TOP_P) {
        // p in (0, 1]: for non-negative floats the bit order is the value order.
        if (prm.p_bits == 0u || prm.p_bits > ONE_BITS) {
            write_result(row, lid, 0u, STATUS_BAD_P, 0u);
            return;
        }
        if (prm.k != 0u) {
            m = min(prm.k, n);
        }
    } else if (prm.mode != MODE_ARGMAX) {
        write_result(row, lid, 0u, STATUS_BAD_MODE, 0u);
        return;
    }
    if (prm.mode != MODE_ARGMAX
        && (prm.temperature_bits == 0u || prm.temperature_bits > MAX_FINITE_BITS)) {
        write_result(row, lid, 0u, STATUS_BAD_TEMPERATURE, 0u);
        return;
    }

    // 3. Arg-max (and a single kept candidate, which the draw can only pick): the lowest id
    //    holding the largest key. No sort.
    if (prm.mode == MODE_ARGMAX || m == 1u) {
        let best_key = atomicLoad(&wg_best_key);
        for (var s = lid; s < n; s += WG) {
            let id = ids[s];
            if (order_key(logit_bits(base, id)) == best_key) {
                atomicMin(&wg_first, id);
            }
        }
        workgroupBarrier();
        if (lid == 0u) {
            wg_first_u = atomicLoad(&wg_first);
        }
        let token = workgroupUniformLoad(&wg_first_u);
        write_result(row, lid, token, STATUS_OK, 0u);
        return;
    }

    // 4. Bitonic sort of the n candidate ids, padded with sentinels to a power of two.
    var size = 1u;
    while (size < n) {
        size = size << 1u;
    }
    for (var s = n + lid; s < size; s += WG) {
        ids[s] = SENTINEL;
    }
    workgroupBarrier();
    let pairs = size >> 1u;
    for (var block = 2u; block <= size; block = block << 1u) {
        for (var stride = block >> 1u; stride > 0u; stride = stride >> 1u) {
            for (var t = lid; t < pairs; t += WG) {
                // Pair t compares positions i and i + stride, i with the stride bit clear.
                let i = (t / stride) * stride * 2u + (t % stride);
                let j = i + stride;
                let a = ids[i];
                let b = ids[j];
                // Blocks with the `block` bit clear sort best first, the others worst first;
                // the last merge (block == size) sorts everything best first.
                let best_first = (i & block) == 0u;
                let swap = select(ranks_before(base, a, b), ranks_before(base, b, a), best_first);
                if (swap) {
                    ids[i] = b;
                    ids[j] = a;
                }
            }
            workgroupBarrier();
        }
    }

    // 5. Weights and prefix masses over the first m sorted candidates.
    let max_logit = bitcast<f32>(logit_bits(base, ids[0]));
    let temperature = bitcast<f32>(prm.temperature_bits);
    let chunk = (m + WG - 1u) / WG;
    let start = lid * chunk;
    let end = min(start + chunk, m);
    var prefix: array<f32, CHUNK_MAX>;
    var acc = 0.0;
    for (var q = 0u; q < chunk; q++) {
        let pos = start + q;
        if (pos < end) {
            acc += weight(bitcast<f32>(logit_bits(base, ids[pos])), max_logit, temperature);
        }
        prefix[q] = acc;
    }
    scan[lid] = acc;
    workgroupBarrier();
    for (var offset = 1u; offset < WG; offset = offset << 1u) {
        var add = 0.0;
        if (lid >= offset) {
            add = scan[lid - offset];
        }
        workgroupBarrier();
        scan[lid] += add;
        workgroupBarrier();
    }
    var exclusive = 0.0;
    if (lid > 0u) {
        exclusive = scan[lid - 1u];
    }
    for (var q = 0u; q < chunk; q++) {
        prefix[q] = exclusive + prefix[q];
    }

    // 6. Top-p cut: keep positions 0..=first position whose mass reaches p * total.
    var keep = m;
    if (prm.mode == MODE_TOP_P) {
        if (start <= m - 1u && m - 1u < end) {
            wg_mass = prefix[m - 1u - start];
        }
        let total = workgroupUniformLoad(&wg_mass);
        let threshold = bitcast<f32>(prm.p_bits) * total;
        for (var q = 0u; q < chunk; q++) {
            if (start + q < end && prefix[q] >= threshold) {
                atomicMin(&wg_first, start + q);
                break;
            }
        }
        workgroupBarrier();
        if (lid == 0u) {
            wg_first_u = atomicLoad(&wg_first);
            // Reset for the draw.
            atomicStore(&wg_first, NONE);
        }
        let cut = workgroupUniformLoad(&wg_first_u);
        if (cut != NONE) {
            keep = cut + 1u;
        }
    }

    // 7. Draw: the first kept position whose inclusive prefix mass exceeds u * kept mass.
    if (start <= keep - 1u && keep - 1u < end) {
        wg_mass = prefix[keep - 1u - start];
    }
    let kept_mass = workgroupUniformLoad(&wg_mass);
    let u = clamp(bitcast<f32>(prm.uniform_bits), 0.0, ONE_MINUS_ULP);
    let target_mass = u * kept_mass;
    for (var q = 0u; q < chunk; q++) {
        let pos = start + q;
        if (pos < min(end, keep) && prefix[q] > target_mass) {
            atomicMin(&wg_first, pos);
            break;
        }
    }
    workgroupBarrier();
    if (lid == 0u) {
        var pos = atomicLoad(&wg_first);
        if (pos == NONE) {
            // Rounding left the target past the end: the last kept candidate.
            pos = keep - 1u;
        }
        results[row] = vec4<u32>(ids[pos], STATUS_OK, 0u, 0u);
    }
}
