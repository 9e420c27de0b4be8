"""Same as ``python -m vitdense.utils.torchscript SRC DST`` (kept for the tools/convert listing)."""
from vitdense.utils.torchscript import main

if __name__ == '__main__':
    main()
