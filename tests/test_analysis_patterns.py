"""Pattern search finds planted patterns; top activations find planted spikes."""

import numpy as np
import torch

from indrnn.analysis.patterns import find_pattern, neurons_on_in_window, top_activations


def _planted():
    torch.manual_seed(0)
    states = torch.rand(50, 4, 6) * 0.4
    states[10:16, 2, [1, 3]] = 0.9  # the pattern, 6 steps
    states[30:34, 0, [1, 3]] = 0.7  # the pattern again, weaker and shorter
    states[5:21, 1, 1] = 0.9  # only half of it: no match
    states[45:50, 3, [1, 3]] = 0.8  # past sequence 3's length below
    return states


def test_find_pattern_lists_planted_stretches_best_first():
    states = _planted()
    matches = find_pattern(states, [1, 3], 0.5, lengths=[50, 50, 50, 45])
    assert [(m.sequence, m.start, m.end) for m in matches] == [(2, 10, 16), (0, 30, 34)]
    assert matches[0].score > matches[1].score and matches[0].length == 6
    long = find_pattern(states, [1, 3], 0.5, min_length=5)  # without lengths: sequence 3 too
    assert [(m.sequence, m.start, m.end) for m in long] == [(2, 10, 16), (3, 45, 50)]
    assert find_pattern(states, [1, 3], 0.5, max_length=4, limit=1)[0].start == 30
    as_list = [states[:, b].numpy() for b in range(4)]
    as_list[3] = as_list[3][:45]
    assert find_pattern(as_list, [1, 3], 0.5)[:2] == matches


def test_a_window_selects_the_neurons_that_are_on_in_it():
    states = _planted()
    assert neurons_on_in_window(states, 2, 10, 16, 0.5).tolist() == [1, 3]
    assert neurons_on_in_window(states, 1, 8, 12, 0.5).tolist() == [1]
    assert neurons_on_in_window(states, 1, 8, 12, 0.5, off_outside=2).tolist() == []
    assert neurons_on_in_window(states, 2, 10, 16, 0.5, off_outside=3).tolist() == [1, 3]


def test_top_activations_with_context_and_separation():
    states = np.zeros((50, 4, 6))
    states[7, 3, 4], states[40, 1, 4], states[41, 1, 4], states[20, 0, 4] = 5.0, 4.0, 3.9, 1.0
    top = top_activations(states, 4, k=3, context=10)
    assert [(f.sequence, f.step, f.value) for f in top] == [(3, 7, 5.0), (1, 40, 4.0),
                                                            (1, 41, 3.9)]
    assert (top[0].start, top[0].end) == (0, 18) and (top[1].start, top[1].end) == (30, 50)
    apart = top_activations(states, 4, k=3, separation=2)
    assert [(f.sequence, f.step) for f in apart] == [(3, 7), (1, 40), (0, 20)]
