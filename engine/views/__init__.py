"""Views: the human text and the JSON of the same models.

Why: (after OpenTofu ``command/views``) the CLI picks a view once; both views
render the same plan/apply/state objects, so they can never disagree.
"""
