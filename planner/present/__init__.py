"""What people read: labels, formatting, charts, the Markdown report and the CLI.
The only layer that imports matplotlib.
"""
