"""python -m pgpath"""

from .cli import main

main()
