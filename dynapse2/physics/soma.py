"""The adaptive exponential DPI soma: positive feedback, NMDA gate and membrane update.

Pure functions against an array namespace ``xp``; currents in A, times in s.

Membrane equation (published form, leak subtracted once), with
I_in = I_ampa + I_nmda,gated + I_dc - I_gaba and the leak-node current
I_sum = I_tau + I_ahp + I_shunt - I_pf:

    tau (1 + I_gain/I_mem) dI_mem/dt = (I_gain/I_tau)(I_in - I_sum) - I_sum I_mem / I_tau,

tau = C_mem U_T / (kappa I_tau). Without SHUNT this expands to the equation of Chicca et al.
(2014). SHUNT enters the leak node (teili's DPI form), so it is both subtractive, through
(I_gain/I_tau) I_shunt, and divisive, through I_shunt I_mem / I_tau. GABA subtracts from I_in.
"""

from __future__ import annotations

import math
from typing import Any


def positive_feedback(xp: Any, imem: Any, kappa: float, io: float) -> Any:
    """Exponential positive-feedback current I_pf = I_0^(1/(k+1)) I_mem^(k/(k+1)) (A).

    This is I_0 exp(k^2/(k+1) V_mem/U_T) with V_mem = (U_T/k) ln(I_mem/I_0) (Rockpool's form).
    """
    return io ** (1.0 / (kappa + 1.0)) * imem ** (kappa / (kappa + 1.0))


def positive_feedback_of_log(xp: Any, log_imem: Any, kappa: float, io: float) -> Any:
    """:func:`positive_feedback` from ln I_mem (I_mem in A), as one ``exp``:
    exp(k/(k+1) ln I_mem + ln(I_0)/(k+1)) (A). The steps use this form, where ln I_mem is
    computed anyway or shared."""
    return xp.exp((kappa / (kappa + 1.0)) * log_imem + math.log(io) / (kappa + 1.0))


def nmda_gate(imem: Any, if_nmda: Any) -> Any:
    """Fraction of the NMDA current that reaches the soma, 1 / (1 + I_f_nmda / I_mem).

    A smooth differential-pair gate: ~0 while I_mem << I_f_nmda, ~1 once I_mem >> I_f_nmda.
    """
    return 1.0 / (1.0 + if_nmda / imem)


def membrane_voltage(xp: Any, imem: Any, kappa: float, ut: float, io: float) -> Any:
    """Membrane voltage V_mem = (U_T / kappa) ln(I_mem / I_0) (V)."""
    return ut / kappa * xp.log(imem / io)


def membrane_derivative(imem: Any, i_in: Any, i_sum: Any, igain: Any, itau: Any, tau: Any) -> Any:
    """dI_mem/dt (A/s) of the DPI soma for input I_in and leak-node current I_sum (A)."""
    drive = igain / itau * (i_in - i_sum) - i_sum * imem / itau
    return drive / (tau * (1.0 + igain / imem))
