TITLE M-type K current (Kv7), CA1 pyramidal cell

COMMENT
Written for sbi_neuro (UC6, detailed CA1 pyramidal cell of the Neuroptimus suite).

Where the equations come from
  M. Migliore's CA1 KM channel (2006) fitted to the data of M. Shah (Shah et al. 2008,
  PNAS 105:7869; ModelDB), with the half-voltages of the CA1 model that UC6 optimises
  (Kali lab, mechanism "km_q10_2": vhalfl = vhalft = -35 mV instead of -40/-42 mV; public
  KaliLab/optimizer repository, read for its numbers only):
      m_inf = 1 / (1 + exp(-(v - vhalf_inf)/10))                 vhalf_inf = -35 mV
      tau_m = b0 + exp(0.0378 zeta gm (v - vhalf_tau)) / (a0 (1 + exp(0.0378 zeta (v - vhalf_tau))))
              b0 = 60 ms, a0 = 0.009 /ms, zeta = 7, gm = 0.4, vhalf_tau = -35 mV
              (0.0378 /mV is F/RT at about 34 degC, written as a constant in the original)
      g = gbar m,  ik = g (v - ek).

Temperature: both published versions compute qt = q10^((celsius - 35)/10) but never apply
it, so tau_m does not depend on celsius; this file applies no temperature factor either.
Reversal: ek is read from the k ion (UC6 uses NEURON's default, -77 mV).
ENDCOMMENT

NEURON {
    SUFFIX ca1_km
    USEION k READ ek WRITE ik
    RANGE gbar, g
    RANGE minf, mtau
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.001 (S/cm2)
    vhalf_inf = -35 (mV)
    slope_inf = 10 (mV)
    vhalf_tau = -35 (mV)
    a0 = 0.009 (/ms)
    zeta = 7
    gm = 0.4
    b0 = 60 (ms)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    g (S/cm2)
    minf
    mtau (ms)
}

STATE { m }

BREAKPOINT {
    SOLVE states METHOD cnexp
    g = gbar * m
    ik = g * (v - ek)
}

INITIAL {
    rates(v)
    m = minf
}

DERIVATIVE states {
    rates(v)
    m' = (minf - m) / mtau
}

PROCEDURE rates(v (mV)) {
    LOCAL x
    TABLE minf, mtau DEPEND vhalf_inf, slope_inf, vhalf_tau, a0, zeta, gm, b0 FROM -100 TO 50 WITH 3000
    UNITSOFF
    minf = 1 / (1 + exp(-(v - vhalf_inf) / slope_inf))
    x = 0.0378 * zeta * (v - vhalf_tau)
    mtau = b0 + exp(gm * x) / (a0 * (1 + exp(x)))
    UNITSON
}
