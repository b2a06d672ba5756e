"""Operations: the stack manager, the demo, Mage's command line, health checks.

The top floor: it wires the stages together and may import every one of them; nothing below
imports it.
"""
