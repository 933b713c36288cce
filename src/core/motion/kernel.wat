;; Hot loops of the motion detector (src/core/motion/detector.ts), compiled to
;; dist/core/motion/kernel.wasm by scripts/build-wasm.js (wabt) during `npm run build`.
;; The detector owns the layout: every pointer below is a byte offset into this module's memory,
;; and every function computes exactly what the detector's former JavaScript loops computed
;; (integer tests on bytes; the running averages in f64 and stored as f32, as JS did).
(module
  (memory (export "memory") 1)

  ;; Changed pixels in the steady state (prediction = background), 16 pixels per step:
  ;; |cur - bg| > thr, unsigned bytes. Blocks are [start, end) byte offsets, multiples of 16, as
  ;; i32 pairs at $rp. Pixels outside every region have thr 255 and can never fire, so whole
  ;; blocks are tested. Writes the changed pixels' indices (ascending) at $out; returns the count.
  (func (export "detect")
    (param $rp i32) (param $rn i32) (param $cur i32) (param $bg i32) (param $thr i32) (param $out i32)
    (result i32)
    (local $re i32) (local $o i32) (local $e i32) (local $n i32) (local $bits i32)
    (local $c v128) (local $b v128) (local $m v128)
    (local.set $re (i32.add (local.get $rp) (i32.shl (local.get $rn) (i32.const 3))))
    (block $done
      (loop $ranges
        (br_if $done (i32.ge_u (local.get $rp) (local.get $re)))
        (local.set $o (i32.load (local.get $rp)))
        (local.set $e (i32.load offset=4 (local.get $rp)))
        (local.set $rp (i32.add (local.get $rp) (i32.const 8)))
        (block $rdone
          (loop $blocks
            (br_if $rdone (i32.ge_u (local.get $o) (local.get $e)))
            (local.set $c (v128.load (i32.add (local.get $cur) (local.get $o))))
            (local.set $b (v128.load (i32.add (local.get $bg) (local.get $o))))
            (local.set $m
              (i8x16.gt_u
                (v128.or (i8x16.sub_sat_u (local.get $c) (local.get $b)) (i8x16.sub_sat_u (local.get $b) (local.get $c)))
                (v128.load (i32.add (local.get $thr) (local.get $o)))))
            (if (v128.any_true (local.get $m))
              (then
                (local.set $bits (i8x16.bitmask (local.get $m)))
                (loop $each
                  (i32.store
                    (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2)))
                    (i32.add (local.get $o) (i32.ctz (local.get $bits))))
                  (local.set $n (i32.add (local.get $n) (i32.const 1)))
                  (local.set $bits (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
                  (br_if $each (local.get $bits)))))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (br $blocks)))
        (br $ranges)))
    (local.get $n))

  ;; Marks the changed pixels in the padded (w+2)x(h+2) changed map and keeps their map indices
  ;; (i + 2y + w + 3, y = i / w) at $pad for clear and count.
  (func (export "mark") (param $changed i32) (param $pad i32) (param $n i32) (param $map i32) (param $w i32)
    (local $end i32) (local $i i32) (local $p i32) (local $fw f64)
    (local.set $fw (f64.convert_i32_u (local.get $w)))
    (local.set $end (i32.add (local.get $changed) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $changed) (local.get $end)))
        (local.set $i (i32.load (local.get $changed)))
        (local.set $p (i32.add (i32.add (local.get $i) (local.get $w))
          (i32.add (i32.const 3)
            (i32.shl (i32.trunc_f64_u (f64.div (f64.convert_i32_u (local.get $i)) (local.get $fw))) (i32.const 1)))))
        (i32.store (local.get $pad) (local.get $p))
        (i32.store8 (i32.add (local.get $map) (local.get $p)) (i32.const 1))
        (local.set $changed (i32.add (local.get $changed) (i32.const 4)))
        (local.set $pad (i32.add (local.get $pad) (i32.const 4)))
        (br $each))))

  (func (export "clear") (param $pad i32) (param $n i32) (param $map i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $pad) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $pad) (local.get $end)))
        (i32.store8 (i32.add (local.get $map) (i32.load (local.get $pad))) (i32.const 0))
        (local.set $pad (i32.add (local.get $pad) (i32.const 4)))
        (br $each))))

  ;; Noise filter and tallies: a changed pixel counts when at least $minN of its 8 neighbours changed.
  ;; Counts per include region (region bit masks, i32 per pixel at $bits) go to the i32s at $rc
  ;; (zeroed by the caller); the counted pixels' minX, minY, maxX, maxY to the 4 i32s at $box.
  ;; Returns the number of counted pixels.
  (func (export "count")
    (param $changed i32) (param $pad i32) (param $n i32) (param $map i32) (param $w i32) (param $h i32)
    (param $minN i32) (param $bits i32) (param $rc i32) (param $box i32)
    (result i32)
    (local $end i32) (local $i i32) (local $p i32) (local $x i32) (local $y i32) (local $wp i32) (local $q i32)
    (local $rb i32) (local $cnt i32) (local $minX i32) (local $minY i32) (local $maxX i32) (local $maxY i32)
    (local.set $wp (i32.add (local.get $w) (i32.const 2)))
    (local.set $minX (local.get $w))
    (local.set $minY (local.get $h))
    (local.set $maxX (i32.const -1))
    (local.set $maxY (i32.const -1))
    (local.set $end (i32.add (local.get $changed) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $changed) (local.get $end)))
        (local.set $p (i32.add (local.get $map) (i32.load (local.get $pad))))
        (local.set $q (i32.sub (local.get $p) (local.get $wp)))
        (local.set $x (i32.add (local.get $p) (local.get $wp)))
        (if (i32.ge_u
              (i32.add
                (i32.add
                  (i32.add (i32.load8_u offset=0 (i32.sub (local.get $q) (i32.const 1))) (i32.load8_u (local.get $q)))
                  (i32.add (i32.load8_u offset=1 (local.get $q)) (i32.load8_u (i32.sub (local.get $p) (i32.const 1)))))
                (i32.add
                  (i32.add (i32.load8_u offset=1 (local.get $p)) (i32.load8_u (i32.sub (local.get $x) (i32.const 1))))
                  (i32.add (i32.load8_u (local.get $x)) (i32.load8_u offset=1 (local.get $x)))))
              (local.get $minN))
          (then
            (local.set $cnt (i32.add (local.get $cnt) (i32.const 1)))
            (local.set $i (i32.load (local.get $changed)))
            ;; map index = i + 2y + w + 3
            (local.set $y (i32.shr_u (i32.sub (i32.sub (i32.load (local.get $pad)) (local.get $i)) (i32.add (local.get $w) (i32.const 3))) (i32.const 1)))
            (local.set $x (i32.sub (local.get $i) (i32.mul (local.get $y) (local.get $w))))
            (if (i32.lt_s (local.get $x) (local.get $minX)) (then (local.set $minX (local.get $x))))
            (if (i32.gt_s (local.get $x) (local.get $maxX)) (then (local.set $maxX (local.get $x))))
            (if (i32.lt_s (local.get $y) (local.get $minY)) (then (local.set $minY (local.get $y))))
            (if (i32.gt_s (local.get $y) (local.get $maxY)) (then (local.set $maxY (local.get $y))))
            (local.set $rb (i32.load (i32.add (local.get $bits) (i32.shl (local.get $i) (i32.const 2)))))
            (block $rdone
              (loop $regions
                (br_if $rdone (i32.eqz (local.get $rb)))
                (local.set $q (i32.add (local.get $rc) (i32.shl (i32.ctz (local.get $rb)) (i32.const 2))))
                (i32.store (local.get $q) (i32.add (i32.load (local.get $q)) (i32.const 1)))
                (local.set $rb (i32.and (local.get $rb) (i32.sub (local.get $rb) (i32.const 1))))
                (br $regions)))))
        (local.set $changed (i32.add (local.get $changed) (i32.const 4)))
        (local.set $pad (i32.add (local.get $pad) (i32.const 4)))
        (br $each)))
    (i32.store (local.get $box) (local.get $minX))
    (i32.store offset=4 (local.get $box) (local.get $minY))
    (i32.store offset=8 (local.get $box) (local.get $maxX))
    (i32.store offset=12 (local.get $box) (local.get $maxY))
    (local.get $cnt))

  ;; Seeding: bgF = cur for $n pixels (16 per step; the byte buffers are padded to whole blocks, the
  ;; f32 buffer's tail past $n is not written), then each span's threshold from the noise floor,
  ;; thr = min(254, trunc(max(kN * noise, T))), in f64 as the JavaScript seeding did.
  (func (export "seed")
    (param $cur i32) (param $bgF i32) (param $n i32) (param $ss i32) (param $se i32) (param $spans i32)
    (param $noise i32) (param $thr i32) (param $kN f64) (param $T f64)
    (local $i i32) (local $e i32) (local $v v128) (local $end i32)
    (local.set $e (i32.and (local.get $n) (i32.const -16)))
    (block $vdone
      (loop $blocks
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $e)))
        (local.set $v (v128.load (i32.add (local.get $cur) (local.get $i))))
        (local.set $end (i32.add (local.get $bgF) (i32.shl (local.get $i) (i32.const 2))))
        (v128.store offset=0 (local.get $end)
          (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (local.get $v)))))
        (v128.store offset=16 (local.get $end)
          (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (i16x8.extend_low_i8x16_u (local.get $v)))))
        (v128.store offset=32 (local.get $end)
          (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (i16x8.extend_high_i8x16_u (local.get $v)))))
        (v128.store offset=48 (local.get $end)
          (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (i16x8.extend_high_i8x16_u (local.get $v)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $blocks)))
    (block $done
      (loop $px
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (f32.store (i32.add (local.get $bgF) (i32.shl (local.get $i) (i32.const 2)))
          (f32.convert_i32_u (i32.load8_u (i32.add (local.get $cur) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $px)))
    (local.set $end (i32.add (local.get $ss) (i32.shl (local.get $spans) (i32.const 2))))
    (block $sdone
      (loop $spans
        (br_if $sdone (i32.ge_u (local.get $ss) (local.get $end)))
        (local.set $i (i32.load (local.get $ss)))
        (local.set $e (i32.load (local.get $se)))
        (block $rdone
          (loop $each
            (br_if $rdone (i32.ge_u (local.get $i) (local.get $e)))
            (i32.store8 (i32.add (local.get $thr) (local.get $i))
              (i32.trunc_f64_s (f64.min (f64.max
                (f64.mul (local.get $kN) (f64.promote_f32 (f32.load (i32.add (local.get $noise) (i32.shl (local.get $i) (i32.const 2))))))
                (local.get $T)) (f64.const 254))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $each)))
        (local.set $ss (i32.add (local.get $ss) (i32.const 4)))
        (local.set $se (i32.add (local.get $se) (i32.const 4)))
        (br $spans))))

  ;; First round of the light fit: per 8-level background bin, sums of current and background levels
  ;; and counts over the samples (pixel indices at $sp, their padded changed-map indices at $spp),
  ;; leaving out pixels that changed last frame. Bins at $bins: 32 i32x4 (sum of cur, sum of bg, count, 0),
  ;; one vector add per sample.
  ;; Returns the samples within $t (an integer: the threshold's floor) of the background.
  (func (export "accumulate")
    (param $sp i32) (param $spp i32) (param $ns i32) (param $cur i32) (param $bg i32) (param $map i32)
    (param $t i32) (param $bins i32)
    (result i32)
    (local $end i32) (local $i i32) (local $b i32) (local $c i32) (local $d i32) (local $near i32) (local $p i32)
    (memory.fill (local.get $bins) (i32.const 0) (i32.const 512))
    (local.set $end (i32.add (local.get $sp) (i32.shl (local.get $ns) (i32.const 2))))
    (block $done
      (loop $samples
        (br_if $done (i32.ge_u (local.get $sp) (local.get $end)))
        (if (i32.eqz (i32.load8_u (i32.add (local.get $map) (i32.load (local.get $spp)))))
          (then
            (local.set $i (i32.load (local.get $sp)))
            (local.set $b (i32.load8_u (i32.add (local.get $bg) (local.get $i))))
            (local.set $c (i32.load8_u (i32.add (local.get $cur) (local.get $i))))
            (local.set $d (i32.sub (local.get $c) (local.get $b)))
            ;; |d| <= t as one unsigned compare: d + t in 0..2t
            (local.set $near
              (i32.add (local.get $near)
                (i32.le_u (i32.add (local.get $d) (local.get $t)) (i32.shl (local.get $t) (i32.const 1)))))
            (local.set $p (i32.add (local.get $bins) (i32.shl (i32.shr_u (local.get $b) (i32.const 3)) (i32.const 4))))
            (v128.store (local.get $p) (i32x4.add (v128.load (local.get $p))
              (i32x4.replace_lane 1 (i32x4.replace_lane 0 (v128.const i32x4 0 0 1 0) (local.get $c)) (local.get $b))))))
        (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
        (local.set $spp (i32.add (local.get $spp) (i32.const 4)))
        (br $samples)))
    (local.get $near))

  ;; Refit rounds of the light fit (light changing): the samples, not changed last frame, within $t
  ;; of the table's prediction lut[bg] (256 bytes at $lut). Returns their count; with $sum, also
  ;; fills the bins with them as "accumulate" does.
  (func (export "inliers")
    (param $sp i32) (param $spp i32) (param $ns i32) (param $cur i32) (param $bg i32) (param $map i32)
    (param $lut i32) (param $t i32) (param $bins i32) (param $sum i32)
    (result i32)
    (local $end i32) (local $i i32) (local $b i32) (local $c i32) (local $n i32) (local $p i32) (local $t2 i32)
    (if (local.get $sum) (then (memory.fill (local.get $bins) (i32.const 0) (i32.const 512))))
    (local.set $t2 (i32.shl (local.get $t) (i32.const 1)))
    (local.set $end (i32.add (local.get $sp) (i32.shl (local.get $ns) (i32.const 2))))
    (block $done
      (loop $samples
        (br_if $done (i32.ge_u (local.get $sp) (local.get $end)))
        (if (i32.eqz (i32.load8_u (i32.add (local.get $map) (i32.load (local.get $spp)))))
          (then
            (local.set $i (i32.load (local.get $sp)))
            (local.set $b (i32.load8_u (i32.add (local.get $bg) (local.get $i))))
            (local.set $c (i32.load8_u (i32.add (local.get $cur) (local.get $i))))
            (if (i32.le_u
                  (i32.add (i32.sub (local.get $c) (i32.load8_u (i32.add (local.get $lut) (local.get $b)))) (local.get $t))
                  (local.get $t2))
              (then
                (local.set $n (i32.add (local.get $n) (i32.const 1)))
                (if (local.get $sum)
                  (then
                    (local.set $p (i32.add (local.get $bins) (i32.shl (i32.shr_u (local.get $b) (i32.const 3)) (i32.const 4))))
                    (v128.store (local.get $p) (i32x4.add (v128.load (local.get $p))
                      (i32x4.replace_lane 1 (i32x4.replace_lane 0 (v128.const i32x4 0 0 1 0) (local.get $c)) (local.get $b))))))))))
        (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
        (local.set $spp (i32.add (local.get $spp) (i32.const 4)))
        (br $samples)))
    (local.get $n))

  ;; Running averages in the steady state (prediction = background) on one pixel range [i, e):
  ;;   noise += an * (min(|cur - bg8|, cap) - noise)
  ;;   bgF   += (changed last frame ? aSlow : a) * (cur - bgF);  bg8 = round(bgF)
  ;;   thr    = min(254, trunc(max(kN * noise, T)))
  ;; in f32, the precision both are stored in, four pixels per step, the range's last 0..3 pixels one
  ;; by one. $pad turns a pixel index into its padded changed-map index (the row's offset).
  (func $span
    (param $i i32) (param $e i32) (param $pad i32)
    (param $cur i32) (param $bg8 i32) (param $bgF i32) (param $noise i32) (param $thr i32) (param $map i32)
    (param $a f32) (param $aSlow f32) (param $an f32) (param $cap f32) (param $kN f32) (param $T f32)
    (local $c i32) (local $d i32) (local $nz f32) (local $nb f32) (local $bf f32) (local $q i32) (local $e4 i32)
    (local $cv v128) (local $mv v128) (local $x v128) (local $nzv v128) (local $bfv v128)
    (local $va v128) (local $vaSlow v128) (local $van v128) (local $vcap v128) (local $vkN v128) (local $vT v128)
    (local.set $va (f32x4.splat (local.get $a)))
    (local.set $vaSlow (f32x4.splat (local.get $aSlow)))
    (local.set $van (f32x4.splat (local.get $an)))
    (local.set $vcap (f32x4.splat (local.get $cap)))
    (local.set $vkN (f32x4.splat (local.get $kN)))
    (local.set $vT (f32x4.splat (local.get $T)))
    (local.set $e4 (i32.sub (local.get $e) (i32.const 3)))
    (block $vdone
      (loop $quad
        (br_if $vdone (i32.ge_s (local.get $i) (local.get $e4)))
        (local.set $cv (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
          (v128.load32_zero (i32.add (local.get $cur) (local.get $i))))))
        (local.set $x (f32x4.convert_i32x4_s (i32x4.abs (i32x4.sub (local.get $cv)
          (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
            (v128.load32_zero (i32.add (local.get $bg8) (local.get $i)))))))))
        (local.set $mv (i32x4.ne
          (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
            (v128.load32_zero (i32.add (local.get $map) (i32.add (local.get $i) (local.get $pad))))))
          (v128.const i32x4 0 0 0 0)))
        (local.set $q (i32.shl (local.get $i) (i32.const 2)))
        (local.set $nzv (v128.load (i32.add (local.get $noise) (local.get $q))))
        (local.set $nzv (f32x4.add (local.get $nzv)
          (f32x4.mul (local.get $van) (f32x4.sub (f32x4.min (local.get $x) (local.get $vcap)) (local.get $nzv)))))
        (v128.store (i32.add (local.get $noise) (local.get $q)) (local.get $nzv))
        (local.set $bfv (v128.load (i32.add (local.get $bgF) (local.get $q))))
        (local.set $bfv (f32x4.add (local.get $bfv)
          (f32x4.mul
            (v128.bitselect (local.get $vaSlow) (local.get $va) (local.get $mv))
            (f32x4.sub (f32x4.convert_i32x4_s (local.get $cv)) (local.get $bfv)))))
        (v128.store (i32.add (local.get $bgF) (local.get $q)) (local.get $bfv))
        (local.set $x (i32x4.trunc_sat_f32x4_s (f32x4.add (local.get $bfv) (v128.const f32x4 0.5 0.5 0.5 0.5))))
        (v128.store32_lane 0 (i32.add (local.get $bg8) (local.get $i))
          (i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_u (local.get $x) (local.get $x)) (local.get $x)))
        (local.set $x (i32x4.trunc_sat_f32x4_s
          (f32x4.min (f32x4.max (f32x4.mul (local.get $vkN) (local.get $nzv)) (local.get $vT))
            (v128.const f32x4 254 254 254 254))))
        (v128.store32_lane 0 (i32.add (local.get $thr) (local.get $i))
          (i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_u (local.get $x) (local.get $x)) (local.get $x)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $quad)))
    (block $done
      (loop $px
        (br_if $done (i32.ge_u (local.get $i) (local.get $e)))
        (local.set $c (i32.load8_u (i32.add (local.get $cur) (local.get $i))))
        (local.set $d (i32.sub (local.get $c) (i32.load8_u (i32.add (local.get $bg8) (local.get $i)))))
        (if (i32.lt_s (local.get $d) (i32.const 0)) (then (local.set $d (i32.sub (i32.const 0) (local.get $d)))))
        (local.set $q (i32.shl (local.get $i) (i32.const 2)))
        (local.set $nz (f32.load (i32.add (local.get $noise) (local.get $q))))
        (local.set $nz
          (f32.add (local.get $nz)
            (f32.mul (local.get $an)
              (f32.sub (f32.min (f32.convert_i32_s (local.get $d)) (local.get $cap)) (local.get $nz)))))
        (f32.store (i32.add (local.get $noise) (local.get $q)) (local.get $nz))
        (local.set $bf (f32.load (i32.add (local.get $bgF) (local.get $q))))
        (local.set $nb
          (f32.add (local.get $bf)
            (f32.mul
              (select (local.get $aSlow) (local.get $a)
                (i32.load8_u (i32.add (local.get $map) (i32.add (local.get $i) (local.get $pad)))))
              (f32.sub (f32.convert_i32_s (local.get $c)) (local.get $bf)))))
        (f32.store (i32.add (local.get $bgF) (local.get $q)) (local.get $nb))
        (i32.store8 (i32.add (local.get $bg8) (local.get $i)) (i32.trunc_f32_s (f32.add (local.get $nb) (f32.const 0.5))))
        (i32.store8 (i32.add (local.get $thr) (local.get $i))
          (i32.trunc_f32_s (f32.min (f32.max (f32.mul (local.get $kN) (local.get $nz)) (local.get $T)) (f32.const 254))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $px))))

  ;; Background of the light-fit samples outside every region (kept for light estimation only):
  ;; bgF += a1 * (cur - bgF) in f64 as JavaScript computed it, stored as f32; bg8 = trunc(f64 + 0.5).
  (func (export "outside")
    (param $sp i32) (param $n i32) (param $cur i32) (param $bg8 i32) (param $bgF i32) (param $a1 f64)
    (local $end i32) (local $i i32) (local $q i32) (local $b f64) (local $nb f64)
    (local.set $end (i32.add (local.get $sp) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $sp) (local.get $end)))
        (local.set $i (i32.load (local.get $sp)))
        (local.set $q (i32.add (local.get $bgF) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $b (f64.promote_f32 (f32.load (local.get $q))))
        (local.set $nb (f64.add (local.get $b) (f64.mul (local.get $a1)
          (f64.sub (f64.convert_i32_u (i32.load8_u (i32.add (local.get $cur) (local.get $i)))) (local.get $b)))))
        (f32.store (local.get $q) (f32.demote_f64 (local.get $nb)))
        (i32.store8 (i32.add (local.get $bg8) (local.get $i)) (i32.trunc_f64_s (f64.add (local.get $nb) (f64.const 0.5))))
        (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
        (br $each))))

  ;; The rotating update: rows y0, y0+U, ... < h; each row's spans are rowSpan[y]..rowSpan[y+1]
  ;; (i32 arrays at $rs, $ss, $se). The padded map index of pixel i in row y is i + 2y + w + 3.
  (func (export "update")
    (param $y i32) (param $U i32) (param $h i32) (param $w i32) (param $rs i32) (param $ss i32) (param $se i32)
    (param $cur i32) (param $bg8 i32) (param $bgF i32) (param $noise i32) (param $thr i32) (param $map i32)
    (param $a f32) (param $aSlow f32) (param $an f32) (param $cap f32) (param $kN f32) (param $T f32)
    (local $s i32) (local $sEnd i32) (local $q i32)
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $y) (local.get $h)))
        (local.set $q (i32.add (local.get $rs) (i32.shl (local.get $y) (i32.const 2))))
        (local.set $s (i32.load (local.get $q)))
        (local.set $sEnd (i32.load offset=4 (local.get $q)))
        (block $sdone
          (loop $spans
            (br_if $sdone (i32.ge_u (local.get $s) (local.get $sEnd)))
            (local.set $q (i32.shl (local.get $s) (i32.const 2)))
            (call $span
              (i32.load (i32.add (local.get $ss) (local.get $q)))
              (i32.load (i32.add (local.get $se) (local.get $q)))
              (i32.add (i32.add (i32.shl (local.get $y) (i32.const 1)) (local.get $w)) (i32.const 3))
              (local.get $cur) (local.get $bg8) (local.get $bgF) (local.get $noise) (local.get $thr) (local.get $map)
              (local.get $a) (local.get $aSlow) (local.get $an) (local.get $cap) (local.get $kN) (local.get $T))
            (local.set $s (i32.add (local.get $s) (i32.const 1)))
            (br $spans)))
        (local.set $y (i32.add (local.get $y) (local.get $U)))
        (br $rows))))
)
