"""Multi-size training: each batch at one of several input sizes, so one set of weights serves every export size.

An SSD's convolutions are size-free but what they learn is not: a model trained only at 320x240 meets faces at
640x480 that are twice as many pixels as any it saw, and one fine-tuned only at 640x480 slowly forgets 320x240.
``data.multi_size`` (config) trains both: the training set is wrapped once per size (:class:`TransformedDataset`,
or a :class:`~.mosaic.MosaicDataset` per size), the views are concatenated, and :class:`MultiSizeBatchSampler`
draws each batch from one view, so every image is seen once per epoch, at one of the sizes.
"""
from typing import Callable, Iterator, List, Optional

import torch
import torch.utils.data


class TransformedDataset(torch.utils.data.Dataset):
    """``base[i]`` (a raw ``(image, target)`` item) through ``transform``; length and indexing follow ``base``."""

    def __init__(self, base, transform: Callable):
        self.base = base
        self.transform = transform

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int):
        return self.transform(*self.base[index])


class MultiSizeBatchSampler(torch.utils.data.Sampler):
    """Batches of indices into a ConcatDataset of ``num_sizes`` equal views (length ``n`` each) of one dataset.

    Each epoch shuffles ``range(n)`` once, cuts it into batches of ``batch_size`` and gives batch ``b`` the view
    ``(b + offset) % num_sizes`` with a random ``offset`` per epoch: sizes alternate, each image is seen once per
    epoch at one size, and an image meets every size over the epochs. A batch of view ``k`` holds the indices
    ``k * n + i``. ``drop_last`` drops a short last batch (as DataLoader's). ``generator``: torch.Generator
    (reproducible order); the order changes every epoch.

    Example: n=5, num_sizes=2, batch_size=2, drop_last=False -> 3 batches such as [[3, 0], [6, 9], [1]].
    """

    def __init__(self, n: int, num_sizes: int, batch_size: int, drop_last: bool = True,
                 generator: Optional[torch.Generator] = None):
        if n < 1 or num_sizes < 1 or batch_size < 1:
            raise ValueError('n, num_sizes and batch_size must be >= 1, got %d, %d, %d' % (n, num_sizes, batch_size))
        self.n, self.num_sizes, self.batch_size = int(n), int(num_sizes), int(batch_size)
        self.drop_last = bool(drop_last) and n > batch_size
        self.generator = generator

    def __len__(self) -> int:
        if self.drop_last:
            return self.n // self.batch_size
        return (self.n + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[List[int]]:
        order = torch.randperm(self.n, generator=self.generator).tolist()
        offset = int(torch.randint(self.num_sizes, (1,), generator=self.generator))
        for b in range(len(self)):
            view = (b + offset) % self.num_sizes
            yield [view * self.n + i for i in order[b * self.batch_size:(b + 1) * self.batch_size]]
