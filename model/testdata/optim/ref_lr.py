"""Reference LRs from mmcv 1.5.0 LrUpdaterHook semantics (and MMSelfSup's
StepFixCosineAnnealing), written from spec/components.md §7.3 and the hook
sources, simulated through the runner's hook calls (before_run,
before_train_epoch, before_train_iter) instead of a closed form, so the Go
pure function is checked against the stateful original.

stdin: JSON list of {cfg, iters_per_epoch, max_epochs, base_lrs}
stdout: JSON list (per case) of lists (per iteration) of lists (per group).
"""
import json
import sys
from math import cos, pi


def annealing_cos(start, end, factor, weight=1):
    cos_out = cos(pi * factor) + 1
    return end + 0.5 * weight * (start - end) * cos_out


class Runner:
    def __init__(self, ipe, max_epochs, base_lrs):
        self.ipe = ipe
        self.max_epochs = max_epochs
        self.max_iters = ipe * max_epochs
        self.epoch = 0
        self.iter = 0
        self.param_groups = [{'lr': b} for b in base_lrs]


class LrUpdater:
    def __init__(self, by_epoch=True, warmup=None, warmup_iters=0,
                 warmup_ratio=0.1, warmup_by_epoch=False):
        if warmup is not None:
            assert warmup in ['constant', 'linear', 'exp']
            assert warmup_iters > 0
            assert 0 < warmup_ratio <= 1.0
        self.by_epoch = by_epoch
        self.warmup = warmup
        self.warmup_iters = warmup_iters
        self.warmup_ratio = warmup_ratio
        self.warmup_by_epoch = warmup_by_epoch
        if warmup_by_epoch:
            self.warmup_epochs = warmup_iters
            self.warmup_iters = None
        else:
            self.warmup_epochs = None
        self.base_lr = []
        self.regular_lr = []

    def _set_lr(self, runner, lrs):
        for g, lr in zip(runner.param_groups, lrs):
            g['lr'] = lr

    def get_regular_lr(self, runner):
        return [self.get_lr(runner, b) for b in self.base_lr]

    def get_warmup_lr(self, cur_iters):
        if self.warmup == 'constant':
            return [r * self.warmup_ratio for r in self.regular_lr]
        if self.warmup == 'linear':
            k = (1 - cur_iters / self.warmup_iters) * (1 - self.warmup_ratio)
            return [r * (1 - k) for r in self.regular_lr]
        k = self.warmup_ratio**(1 - cur_iters / self.warmup_iters)
        return [r * k for r in self.regular_lr]

    def before_run(self, runner):
        for g in runner.param_groups:
            g.setdefault('initial_lr', g['lr'])
        self.base_lr = [g['initial_lr'] for g in runner.param_groups]

    def before_train_epoch(self, runner):
        if self.warmup_iters is None:
            self.warmup_iters = self.warmup_epochs * runner.ipe
        if not self.by_epoch:
            return
        self.regular_lr = self.get_regular_lr(runner)
        self._set_lr(runner, self.regular_lr)

    def before_train_iter(self, runner):
        cur_iter = runner.iter
        if not self.by_epoch:
            self.regular_lr = self.get_regular_lr(runner)
            if self.warmup is None or cur_iter >= self.warmup_iters:
                self._set_lr(runner, self.regular_lr)
            else:
                self._set_lr(runner, self.get_warmup_lr(cur_iter))
        else:
            if self.warmup is None or cur_iter > self.warmup_iters:
                return
            elif cur_iter == self.warmup_iters:
                self._set_lr(runner, self.regular_lr)
            else:
                self._set_lr(runner, self.get_warmup_lr(cur_iter))


class Fixed(LrUpdater):
    def get_lr(self, runner, base_lr):
        return base_lr


class Step(LrUpdater):
    def __init__(self, step, gamma=0.1, min_lr=None, **kw):
        self.step, self.gamma, self.min_lr = step, gamma, min_lr
        super().__init__(**kw)

    def get_lr(self, runner, base_lr):
        progress = runner.epoch if self.by_epoch else runner.iter
        if isinstance(self.step, int):
            exp = progress // self.step
        else:
            exp = len(self.step)
            for i, s in enumerate(self.step):
                if progress < s:
                    exp = i
                    break
        lr = base_lr * (self.gamma**exp)
        if self.min_lr is not None:
            lr = max(lr, self.min_lr)
        return lr


class Exp(LrUpdater):
    def __init__(self, gamma, **kw):
        self.gamma = gamma
        super().__init__(**kw)

    def get_lr(self, runner, base_lr):
        progress = runner.epoch if self.by_epoch else runner.iter
        return base_lr * self.gamma**progress


class Inv(LrUpdater):
    def __init__(self, gamma, power=1., **kw):
        self.gamma, self.power = gamma, power
        super().__init__(**kw)

    def get_lr(self, runner, base_lr):
        progress = runner.epoch if self.by_epoch else runner.iter
        return base_lr * (1 + self.gamma * progress)**(-self.power)


class Poly(LrUpdater):
    def __init__(self, power=1., min_lr=0., **kw):
        self.power, self.min_lr = power, min_lr
        super().__init__(**kw)

    def get_lr(self, runner, base_lr):
        if self.by_epoch:
            progress, max_progress = runner.epoch, runner.max_epochs
        else:
            progress, max_progress = runner.iter, runner.max_iters
        coeff = (1 - progress / max_progress)**self.power
        return (base_lr - self.min_lr) * coeff + self.min_lr


class CosineAnnealing(LrUpdater):
    def __init__(self, min_lr=None, min_lr_ratio=None, **kw):
        assert (min_lr is None) ^ (min_lr_ratio is None)
        self.min_lr, self.min_lr_ratio = min_lr, min_lr_ratio
        super().__init__(**kw)

    def get_lr(self, runner, base_lr):
        if self.by_epoch:
            progress, max_progress = runner.epoch, runner.max_epochs
        else:
            progress, max_progress = runner.iter, runner.max_iters
        if self.min_lr_ratio is not None:
            target_lr = base_lr * self.min_lr_ratio
        else:
            target_lr = self.min_lr
        return annealing_cos(base_lr, target_lr, progress / max_progress)


class StepFixCosineAnnealing(CosineAnnealing):
    def get_warmup_lr(self, cur_iters):
        if self.warmup == 'constant':
            return [r * self.warmup_ratio for r in self.regular_lr]
        if self.warmup == 'linear':
            k = (1 - cur_iters / self.warmup_iters)
            return [r * (1 - k) for r in self.regular_lr]
        k = self.warmup_ratio**(1 - cur_iters / self.warmup_iters)
        return [r * k for r in self.regular_lr]

    def get_lr(self, runner, base_lr):
        if self.by_epoch:
            progress, max_progress = runner.epoch, runner.max_epochs
            if self.warmup is not None:
                progress = progress - self.warmup_iters // runner.ipe
                max_progress = max_progress - self.warmup_iters // runner.ipe
        else:
            progress, max_progress = runner.iter, runner.max_iters
            if self.warmup is not None:
                progress = progress - self.warmup_iters
                max_progress = max_progress - self.warmup_iters
        if self.min_lr_ratio is not None:
            target_lr = base_lr * self.min_lr_ratio
        else:
            target_lr = self.min_lr
        return annealing_cos(base_lr, target_lr, progress / max_progress)


POLICIES = {c.__name__: c for c in
            [Fixed, Step, Exp, Inv, Poly, CosineAnnealing, StepFixCosineAnnealing]}


def run(case):
    cfg = dict(case['cfg'])
    policy = cfg.pop('policy')
    if policy == policy.lower():
        policy = policy.title()
    hook = POLICIES[policy](**cfg)
    runner = Runner(case['iters_per_epoch'], case['max_epochs'], case['base_lrs'])
    hook.before_run(runner)
    out = []
    for epoch in range(runner.max_epochs):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        for _ in range(runner.ipe):
            hook.before_train_iter(runner)
            out.append([g['lr'] for g in runner.param_groups])
            runner.iter += 1
    return out


if __name__ == '__main__':
    cases = json.load(sys.stdin)
    json.dump([run(c) for c in cases], sys.stdout)
