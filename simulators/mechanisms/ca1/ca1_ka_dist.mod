TITLE A-type K current, CA1 pyramidal cell, dist variant

COMMENT
Written for sbi_neuro (UC6, detailed CA1 pyramidal cell of the Neuroptimus suite).
Variant: distal (dendrites beyond 100 um from the soma).

Where the equations come from
  The CA1 model that UC6 optimises (Kali lab; mechanism "K_A_dist", a ChannelML channel
  "adapted from Kali, based on Golomb et al." in the public KaliLab/optimizer repository,
  read for its numbers only), converted here from SI units to mV and ms:
      activation n, 2 gates: alpha = 0.45 exp((v - V0)/24) /ms, beta = 0.45 exp(-(v - V0)/24) /ms
                             n_inf = alpha/(alpha + beta) = 1/(1 + exp(-(v - V0)/12)),
                             tau_n = 1/(alpha + beta) (at most 1.1 ms)
                             V0 = -5.4 mV proximal, -16.5 mV distal: the distal channel
                             activates 11 mV more negative, as the distal A-type channel of
                             Migliore et al. (1999) J Comput Neurosci 7:5 does (kad vs kap,
                             12 mV there).
      inactivation l:        l_inf = 1/(1 + exp((v + 51)/8)),
                             tau_l = 5 ms for v <= -30 mV, 5 + 0.26 (v + 30) ms above
                             (the 0.26 ms/mV rise of tau_l with voltage of Migliore 1999).
      g = gbar n^2 l,  ik = g (v - ek).
  This variant: V0 = -16.5 mV.

Temperature: no temperature factor in the published mechanism; celsius does not enter.
Reversal: ek is read from the k ion (UC6 uses NEURON's default, -77 mV).
ENDCOMMENT

NEURON {
    SUFFIX ca1_ka_dist
    USEION k READ ek WRITE ik
    RANGE gbar, g
    GLOBAL vhalf_n
    RANGE ninf, ntau, linf, ltau
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.0035 (S/cm2)
    vhalf_n = -16.5 (mV)
    rate_n = 0.45 (/ms)
    slope_n = 24 (mV)
    vhalf_l = -51 (mV)
    slope_l = 8 (mV)
    tau0_l = 5 (ms)
    vbreak_l = -30 (mV)
    rise_l = 0.26 (ms/mV)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    g (S/cm2)
    ninf
    ntau (ms)
    linf
    ltau (ms)
}

STATE { n l }

BREAKPOINT {
    SOLVE states METHOD cnexp
    g = gbar * n * n * l
    ik = g * (v - ek)
}

INITIAL {
    rates(v)
    n = ninf
    l = linf
}

DERIVATIVE states {
    rates(v)
    n' = (ninf - n) / ntau
    l' = (linf - l) / ltau
}

PROCEDURE rates(v (mV)) {
    LOCAL a, b
    TABLE ninf, ntau, linf, ltau DEPEND vhalf_n, rate_n, slope_n, vhalf_l, slope_l, tau0_l, vbreak_l, rise_l FROM -100 TO 50 WITH 3000
    UNITSOFF
    a = rate_n * exp((v - vhalf_n) / slope_n)
    b = rate_n * exp(-(v - vhalf_n) / slope_n)
    ninf = a / (a + b)
    ntau = 1 / (a + b)
    linf = 1 / (1 + exp((v - vhalf_l) / slope_l))
    if (v > vbreak_l) {
        ltau = tau0_l + rise_l * (v - vbreak_l)
    } else {
        ltau = tau0_l
    }
    UNITSON
}
