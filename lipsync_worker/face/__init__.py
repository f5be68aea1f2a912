"""The face as the bake sees it: dense landmarks, and what the mouth of the source is doing."""
