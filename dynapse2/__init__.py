"""dynapse2: simulate, train, quantize and deploy spiking networks on the Dynap-SE2 chip."""

__version__ = "0.1.0"
