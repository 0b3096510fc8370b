"""Subject-independent train / test splits and cross-validation folds, on scikit-learn.

The readers of `affectkeras.annotations` give each record a subject id (`record.subject`,
or any id through `key`). `split_by_subject` and `kfold_by_subject` never put one subject
on both sides, the norm for all these databases: they run scikit-learn's group splitters
(`GroupShuffleSplit`, `GroupKFold`, `LeaveOneGroupOut`) with the subjects as the groups and
return the records themselves, each side in the records' original order.
"""

import operator

import numpy as np

from affectkeras.errors import InvalidArgumentError, check_positive

__all__ = ["kfold_by_subject", "split_by_subject"]


def _subjects(records, key):
    """Returns `(ids, subjects, groups)`: each record's subject id, the sorted distinct ids,
    and each record's position in `subjects` (the groups the scikit-learn splitters take)."""
    key = key or operator.attrgetter("subject")
    ids = [key(r) for r in records]
    missing = sum(s is None for s in ids)
    if missing:
        raise InvalidArgumentError(
            "Every record needs a subject id for a subject-independent split; "
            f"{missing} of {len(ids)} have none "
            "(pass `subject_pattern` to the reader). Received: records without subject"
        )
    subjects = sorted(set(ids), key=lambda s: (str(type(s)), s))
    position = {s: i for i, s in enumerate(subjects)}
    return ids, subjects, np.array([position[s] for s in ids], np.int64)


def _sides(records, splitter, groups):
    """The `(train, test)` record lists of each split `splitter` makes of `groups`."""
    return [
        ([records[i] for i in train], [records[i] for i in test])
        for train, test in splitter.split(groups, groups=groups)
    ]


def split_by_subject(records, *, test_fraction=None, test_subjects=None, seed=0, key=None):
    """Splits records into train and test so that no subject is on both sides.

    Args:
        records: sequence of records with a `subject` attribute (or see `key`).
        test_fraction: float or None. Fraction of the *subjects* (not records) to put in the
            test side, in (0, 1); rounded, at least 1 subject and at least 1 left for train.
            The subjects are drawn at random with `seed` (scikit-learn's
            `GroupShuffleSplit`).
        test_subjects: iterable or None. The test subjects, instead of `test_fraction`.
        seed: int. Random seed for `test_fraction`.
        key: callable or None. Record -> subject id; default `record.subject`.

    Returns:
        `(train, test)`: two lists of records, each in the original order.

    Raises:
        InvalidArgumentError: both or neither of `test_fraction` / `test_subjects`, a record
            without subject, fewer than 2 subjects, an unknown test subject.

    Example:
        >>> train, test = split_by_subject(read_ravdess(root), test_fraction=0.25, seed=1)
    """
    if (test_fraction is None) == (test_subjects is None):
        raise InvalidArgumentError(
            "Pass exactly one of `test_fraction` and `test_subjects`. "
            f"Received: test_fraction={test_fraction!r}, "
            f"test_subjects={test_subjects!r}"
        )
    records = list(records)
    ids, subjects, groups = _subjects(records, key)
    if test_subjects is not None:
        test = set(test_subjects)
        unknown = sorted((s for s in test if s not in set(subjects)), key=str)
        if unknown:
            raise InvalidArgumentError(
                f"`test_subjects` has subjects the records do not: {unknown}; known: {subjects}. "
                f"Received: test_subjects={sorted(test, key=str)}"
            )
        train_records = [r for r, s in zip(records, ids) if s not in test]
        test_records = [r for r, s in zip(records, ids) if s in test]
        return train_records, test_records
    if not (isinstance(test_fraction, (int, float)) and 0 < test_fraction < 1):
        raise InvalidArgumentError(
            f"`test_fraction` must be in (0, 1). Received: test_fraction={test_fraction!r}"
        )
    if len(subjects) < 2:
        raise InvalidArgumentError(f"A split needs at least 2 subjects. Received: subjects {subjects}")
    from sklearn.model_selection import GroupShuffleSplit  # scikit-learn loads in ~1 s: only when splitting

    count = min(max(int(round(test_fraction * len(subjects))), 1), len(subjects) - 1)
    # An integer test_size is a number of groups: `count` subjects, the others train.
    return _sides(records, GroupShuffleSplit(n_splits=1, test_size=count, random_state=seed), groups)[0]


def kfold_by_subject(records, k, *, seed=None, key=None):
    """Subject-independent k-fold cross-validation folds.

    Fold i's test side holds the records of its subjects, its train side all others; every
    subject is tested in exactly one fold. The subjects go to the folds by scikit-learn's
    `GroupKFold`: without `seed`, one by one from the subject with the most records, each to
    the fold with the fewest records so far (folds of about equal record counts); with `seed`,
    shuffled with it and cut into `k` runs of subjects whose sizes differ by at most one.
    With `k` equal to the number of subjects this is leave-one-subject-out
    (`LeaveOneGroupOut`): fold i tests the i-th subject in sorted order, whatever `seed`.

    Args:
        records: sequence of records with a `subject` attribute (or see `key`).
        k: int. Number of folds, 2 <= k <= number of subjects.
        seed: int or None. Shuffles the subjects before dealing; None deals them by size
            (deterministic either way).
        key: callable or None. Record -> subject id; default `record.subject`.

    Returns:
        A list of `k` pairs `(train, test)` of lists of records (original order).

    Raises:
        InvalidArgumentError: `k` not an integer in [2, number of subjects], a record
            without subject.

    Example:
        >>> for train, test in kfold_by_subject(read_jaffe("jaffe"), 10):  # leave one out
        ...     pass
    """
    check_positive("k", k, integer=True)
    records = list(records)
    _, subjects, groups = _subjects(records, key)
    if not 2 <= k <= len(subjects):
        raise InvalidArgumentError(
            f"`k` must be between 2 and the number of subjects ({len(subjects)}). Received: k={k}"
        )
    from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

    if k == len(subjects):
        splitter = LeaveOneGroupOut()
    else:
        splitter = GroupKFold(k, shuffle=seed is not None, random_state=seed)
    return _sides(records, splitter, groups)
