TITLE Hyperpolarisation-activated cation current (Ih), CA1 pyramidal cell, dist variant

COMMENT
Written for sbi_neuro (UC6, detailed CA1 pyramidal cell of the Neuroptimus suite).
Variant: distal (dendrites beyond 100 um from the soma).

Where the equations come from
  The CA1 model that UC6 optimises (Kali lab; mechanism "H_CA1pyr_dist", a ChannelML channel of
  the GENESIS CA1 pyramidal cell lineage, in the public KaliLab/optimizer repository, read
  for its numbers only), converted here from SI units (V, s) to mV and ms:
      q_inf = 1 / (1 + exp((v - V0)/3.333))      V0 = -83 mV proximal, -89 mV distal
      tau_q = 1000 exp(0.033 (v + 75)) / (11 (1 + exp(0.083 (v + 75)))) ms
              (about 40-45 ms between -90 and -65 mV)
      one gate, non-specific current: i = gbar q (v - ehcn), ehcn = -30 mV.
  The more negative half-activation of the distal variant follows the proximal/distal
  distinction of the original model; the conductance density increases with distance from
  the soma (Magee 1998, J Neurosci 18:7613), set from Python.
  This variant: V0 = -89 mV.

Temperature: no temperature factor in the published mechanism; celsius does not enter.
ENDCOMMENT

NEURON {
    SUFFIX ca1_h_dist
    NONSPECIFIC_CURRENT i
    RANGE gbar, g, ehcn
    GLOBAL vhalf_q
    RANGE qinf, qtau
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 2e-5 (S/cm2)
    ehcn = -30 (mV)
    vhalf_q = -89 (mV)
    slope_q = 3.3333333333 (mV)
}

ASSIGNED {
    v (mV)
    i (mA/cm2)
    g (S/cm2)
    qinf
    qtau (ms)
}

STATE { q }

BREAKPOINT {
    SOLVE states METHOD cnexp
    g = gbar * q
    i = g * (v - ehcn)
}

INITIAL {
    rates(v)
    q = qinf
}

DERIVATIVE states {
    rates(v)
    q' = (qinf - q) / qtau
}

PROCEDURE rates(v (mV)) {
    TABLE qinf, qtau DEPEND vhalf_q, slope_q FROM -100 TO 50 WITH 3000
    UNITSOFF
    qinf = 1 / (1 + exp((v - vhalf_q) / slope_q))
    qtau = 1000 * exp(0.033 * (v + 75)) / (11 * (1 + exp(0.083 * (v + 75))))
    UNITSON
}
