"""Next-edit suggestions: after an edit, the edits that follow it near the cursor. No pygls here.

`NextEditService` (service.py) is the feature's one entry point. Its stages, in the order a
request walks them: `history.py` (the user's recent edits, fed from didChange), `prompt.py`
(region, diffs, the model's edit format), the engine's rewrite with the original region as its
draft, stopped by `rewrite.py`'s rejoin rule, then `edits.py` (minimal edits and drop rules);
`predict.py` joins them for one request on the engine's thread.
"""
