# Every construct of the MMSelfSup config subset (config.md §1), plus a few neighbours.
# comment at the top
int_val = 42
neg_int = -1
float_dot = 1.
float_exp = 1e-4
float_neg_exp = -2.5E-3
leading_dot = .5
underscored = 1_000_000
hex_val = 0x1F
big = 9999999999
single = 'single \'quoted\''
double = "double \"quoted\""
regex = '\\Ahead.'
regex_groups = '(bn|gn)(\\d+)?.(weight|bias)'
unknown_escape = '\d keeps its backslash'
escapes = 'tab\there\nnewline \x41 \u00e9 \101'
raw = r'\Ahead.\d'
adjacent = 'abc' "def" \
    'ghi'
triple = '''line one
line two'''
yes, no, nothing = True, False, None
empty_list = []
empty_tuple = ()
one_tuple = (3, )
one_tuple_bare = (3,)
paren_not_tuple = (3)
tuple_val = (0.2, 1.)
nested = [(1, 2), [3, [4, (5, )]], {'k': (6, )}]
dict_literal = {'\\Ahead.': dict(momentum=0.), "b": 1, 'trailing': 2, }
img_norm_cfg = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
normalize = dict(type='Normalize', **img_norm_cfg)
dict_positional = dict(img_norm_cfg, extra=True)
dict_unpack_literal = {**img_norm_cfg, 'x': 1}
empty_dict = dict()
lr = 1.5e-4 * 4096 / 256
arith = 128 * 2**3
div = 1e-6 / 2e-4
int_div = 7 / 2
floor_div = -7 // 2
modulo = -7 % 3
power_neg = 2**-1
power_unary = -2**2
precedence = 1 + 2 * 3 - 4 / 2
parens = (1 + 2) * 3
color_distort_strength = 1.0
brightness = 0.8 * color_distort_strength
data_root = 'data/VOCdevkit/'
joined = data_root + 'VOC2007/'
repeated = 'ab' * 3
list_concat = [1] + [2, 3]
indexed = nested[1][1][0]
negative_index = [1, 2, 3][-1]
dict_index = img_norm_cfg['mean']
compare = 3 > 2
not_val = not False
and_or = (0 or 'fallback') and 'both'
# Shared references: the extend below is visible through every name bound to the list.
train_pipeline = [
    dict(type='RandomResizedCrop', size=224, scale=(0.2, 1.)),  # inline comment
    dict(type='RandomHorizontalFlip'),
]
pipelines = [train_pipeline, train_pipeline]
data = dict(
    samples_per_gpu=32,  # total 32*8=256
    train=dict(pipeline=train_pipeline),
)
prefetch = False
if not prefetch:
    train_pipeline.extend(
        [dict(type='ToTensor'),
         dict(type='Normalize', **img_norm_cfg)])
    train_pipeline.append(dict(type='Marker', p=0.5))
elif prefetch == 1:
    unreachable_elif = True
else:
    unreachable_else = True
if prefetch:
    taken = False
else:
    taken = True
if True: inline_body = 'yes'
train_pipeline.append(
    dict(type='TopLevelAppend', ratio=(3. / 4., 4. / 3.)))
shared_dict = dict(a=1)
holder = dict(inner=shared_dict)
shared_dict.update(dict(b=2))
a = b = [1]
__private = 'not a config key'
