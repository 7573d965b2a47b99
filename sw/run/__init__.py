"""The appliance's main job, end to end (appliance.py; `nerve run`)."""
