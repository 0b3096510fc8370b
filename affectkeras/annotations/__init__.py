"""Annotation readers: Aff-Wild2 / ABAW files, annotator fusion, resampling, downstream databases.

Pure Python + numpy (scikit-learn for the subject splits; no TensorFlow), so the readers work
in any preprocessing job.

- `affwild2`: per-video VA / EXPR / AU files, the ABAW 2022 MTL CSV, challenge folders.
- `frames`: per-frame `Labels` and `FrameTable`, merging tasks into a `FrameTable`, aligning
  labels to the frames that have a face crop.
- `fusion`: mean / median-filtered fusion of several annotators chosen by MAIC, and
  resampling label streams to 30 fps.
- `images`: expression image databases: AffectNet / RAF-DB / CK+ folders, CSV lists,
  FER2013, JAFFE.
- `ravdess`: RAVDESS clips from their coded file names.
- `clips`: any audio clip corpus listed as `path,label,subject` (EMO-DB, CREMA-D, ...).
- `continuous`: RECOLA-style continuous per-frame CSVs, resampled to 30 fps.
- `splits`: subject-independent train / test splits and k-fold folds (scikit-learn).
- `ferplus`: FER+'s 10 votes per face as majority labels and soft label distributions.
"""

from affectkeras.annotations.affwild2 import (
    MTL_HEADER,
    detect_task,
    find_annotation_files,
    find_annotation_folder,
    read_annotation_file,
    read_annotation_set,
    read_mtl_csv,
    source_video,
)
from affectkeras.annotations.clips import ClipRecord, read_clip_csv
from affectkeras.annotations.continuous import ContinuousLabels, read_continuous_csv
from affectkeras.annotations.ferplus import (
    FERPLUS_COLUMNS,
    FERPLUS_EMOTIONS,
    FERPLUS_SPLITS,
    FERPLUS_TO_EXPRESSION,
    FerPlusRecord,
    read_ferplus,
)
from affectkeras.annotations.frames import (
    TASKS,
    FrameTable,
    Labels,
    align_to_frames,
    list_face_frames,
    merge_annotation_sets,
    merge_labels,
)
from affectkeras.annotations.fusion import (
    PAPER_WINDOWS,
    average_correlations,
    choose_fusion,
    fuse_mean,
    fuse_median_filtered,
    maic,
    median_filter,
    resample_to_fps,
    resampled_length,
)
from affectkeras.annotations.images import (
    AFFECTNET_CLASS_MAP,
    EXPRESSION_ALIASES,
    FER2013_EMOTIONS,
    JAFFE_CODES,
    RAFDB_CLASS_MAP,
    ExpressionRecord,
    compile_subject_pattern,
    read_expression_csv,
    read_expression_folder,
    read_fer2013,
    read_jaffe,
)
from affectkeras.annotations.ravdess import RavdessRecord, parse_ravdess_name, read_ravdess
from affectkeras.annotations.splits import kfold_by_subject, split_by_subject

__all__ = [
    "ClipRecord",
    "AFFECTNET_CLASS_MAP",
    "EXPRESSION_ALIASES",
    "FER2013_EMOTIONS",
    "FERPLUS_COLUMNS",
    "FERPLUS_EMOTIONS",
    "FERPLUS_SPLITS",
    "FERPLUS_TO_EXPRESSION",
    "JAFFE_CODES",
    "MTL_HEADER",
    "PAPER_WINDOWS",
    "RAFDB_CLASS_MAP",
    "TASKS",
    "ContinuousLabels",
    "ExpressionRecord",
    "compile_subject_pattern",
    "FerPlusRecord",
    "FrameTable",
    "Labels",
    "RavdessRecord",
    "align_to_frames",
    "average_correlations",
    "choose_fusion",
    "detect_task",
    "find_annotation_files",
    "find_annotation_folder",
    "fuse_mean",
    "fuse_median_filtered",
    "kfold_by_subject",
    "list_face_frames",
    "maic",
    "median_filter",
    "merge_annotation_sets",
    "merge_labels",
    "parse_ravdess_name",
    "read_annotation_file",
    "read_annotation_set",
    "read_clip_csv",
    "read_continuous_csv",
    "read_expression_csv",
    "read_expression_folder",
    "read_fer2013",
    "read_ferplus",
    "read_jaffe",
    "read_mtl_csv",
    "read_ravdess",
    "resample_to_fps",
    "resampled_length",
    "source_video",
    "split_by_subject",
]
