// Package pyconf parses and evaluates the subset of Python that MMSelfSup config files use.
//
// # Subset
//
// Assignments to names, comments, implicit continuation inside brackets (and backslash
// continuation), int/float/str literals (escapes, raw and triple-quoted strings, adjacent
// literal concatenation), True/False/None, lists, tuples (including 1-tuples), dict literals,
// dict(k=v, **other), the operators + - * / // % ** and unary -, not/and/or, comparisons,
// indexing, references to earlier names with Python's shared-reference semantics, and
// if/elif/else blocks whose bodies assign or call list.extend, list.append or dict.update.
// Anything else is an error naming file:line.
//
// # Result
//
// Eval returns every top-level name not starting with "__" in definition order, converted
// to tree values (tuples become lists; shared lists and dicts become independent copies).
package pyconf
