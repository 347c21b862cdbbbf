"""Pure, stateless physics of the Dynap-SE2 circuits (no module system, no hardware)."""
