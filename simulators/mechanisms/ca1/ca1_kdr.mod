TITLE Delayed-rectifier K current, CA1 pyramidal cell (Borg-Graham gate)

COMMENT
Written for sbi_neuro (UC6, detailed CA1 pyramidal cell of the Neuroptimus suite).

Where the equations come from
  Gate formalism of L. J. Borg-Graham (1999), "Interpretations of data and mechanisms for
  hippocampal pyramidal cell models", Cerebral Cortex vol. 13 (Plenum):
      n_inf = 1 / (1 + exp(-(v - V0)/k))
      tau_n = 1 / (kt exp(gamma (v - V0)/k) + kt exp((gamma - 1)(v - V0)/k)) + tau0
  Constants of the CA1 model that UC6 optimises (Kali lab; mechanism
  "K_DRS4_params_voltage_dep" with the value V0 = 0 mV that the model's biophysics hoc file
  sets; public KaliLab/optimizer repository, read for its numbers only):
      V0 = 0 mV, k = 9 mV, kt = 0.05 /ms, gamma = 0.9, tau0 = 2 ms, 4 gates:
      g = gbar n^4,  ik = g (v - ek).
  tau_n is 12 ms at 0 mV and about 3 ms at +30 mV.

Temperature: no temperature factor in the published mechanism; celsius does not enter.
Reversal: ek is read from the k ion (UC6 uses NEURON's default, -77 mV).
ENDCOMMENT

NEURON {
    SUFFIX ca1_kdr
    USEION k READ ek WRITE ik
    RANGE gbar, g
    GLOBAL vhalf_n
    RANGE ninf, ntau
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.01 (S/cm2)
    vhalf_n = 0 (mV)
    k_n = 9 (mV)
    kt_n = 0.05 (/ms)
    gamma_n = 0.9
    tau0_n = 2 (ms)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    g (S/cm2)
    ninf
    ntau (ms)
}

STATE { n }

BREAKPOINT {
    SOLVE states METHOD cnexp
    g = gbar * n * n * n * n
    ik = g * (v - ek)
}

INITIAL {
    rates(v)
    n = ninf
}

DERIVATIVE states {
    rates(v)
    n' = (ninf - n) / ntau
}

PROCEDURE rates(v (mV)) {
    LOCAL x
    TABLE ninf, ntau DEPEND vhalf_n, k_n, kt_n, gamma_n, tau0_n FROM -100 TO 50 WITH 3000
    UNITSOFF
    x = (v - vhalf_n) / k_n
    ninf = 1 / (1 + exp(-x))
    ntau = 1 / (kt_n * exp(gamma_n * x) + kt_n * exp((gamma_n - 1) * x)) + tau0_n
    UNITSON
}
