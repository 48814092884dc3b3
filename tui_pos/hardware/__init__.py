"""Hardware behind small interfaces: printers (python-escpos) and scanners (evdev)."""
