"""The domain core of the support bot: policy, triage, cases and on-call.

Nothing here knows which chat platform it runs on, and every rule that depends on time
takes the moment as an argument.
"""
