"""The preprocessing a model was trained with, applied to raw uploaded values."""

from __future__ import annotations

from dataclasses import replace

from indrnn.data.base import Task
from indrnn.data.sensors import normalize
from indrnn.data.uploads.common import ParsedInput, UploadError, expects


def prepare_for_model(parsed: ParsedInput, task: Task) -> ParsedInput:
    """Apply the preprocessing the model was trained with to raw uploaded values.

    Sensor tasks: per-channel ``(x - mean) / std`` with ``task.extras["mean"]``, ``["std"]``
    (padding stays 0), as :func:`indrnn.data.sensors.normalize`. Permuted pixel tasks: the
    pixels reordered by ``task.extras["permutation"]`` (uploads are in natural row-major order).
    Others, and text, are returned unchanged. Load ``task`` with the model card's task keyword
    arguments (e.g. ``num_valid``), as the statistics come from the training split.

    Parameters
    ----------
    parsed : ParsedInput
        From a parser.
    task : TaskData, AddingTask or TextData
        The model's task, from :func:`indrnn.data.load_task`.

    Returns
    -------
    ParsedInput
        With ``prepared=True``; an already prepared input is returned as it is.
    """
    if parsed.prepared or parsed.inputs.dim() != 3:
        return replace(parsed, prepared=True)
    if parsed.inputs.shape[2] != task.info.input_size:
        raise UploadError(f"the input has {parsed.inputs.shape[2]} channels; the {task.info.name}"
                          f" model expects {expects(task.info)}")
    extras, inputs, notes = task.extras, parsed.inputs, list(parsed.notes)
    if "mean" in extras and "std" in extras:
        inputs = normalize(inputs, parsed.lengths, extras["mean"], extras["std"])
        notes.append("standardised per channel with the model's training mean and std")
    if "permutation" in extras:
        inputs = inputs[:, extras["permutation"]]
        notes.append("pixels reordered by the task's fixed permutation")
    return replace(parsed, inputs=inputs, notes=tuple(notes), prepared=True)
