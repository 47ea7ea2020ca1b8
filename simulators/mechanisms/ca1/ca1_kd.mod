TITLE D-type K current (Kv1), CA1 pyramidal cell soma

COMMENT
Written for sbi_neuro (UC6, detailed CA1 pyramidal cell of the Neuroptimus suite).

Where the equations come from
  The D current of Golomb et al. (2007) PLoS Comput Biol 3:e156 (fast-spiking interneuron;
  NEURON version by Carnevale & Yamini, ModelDB 97747) as modified in the CA1 model that
  UC6 optimises (Kali lab, mechanism "kd_params3" with the values its biophysics hoc file
  sets for the soma; public KaliLab/optimizer repository, read for its numbers only):
      activation a, 3 gates: a_inf = 1 / (1 + exp(-(v - theta_a)/sigma_a)), tau_a = 2 ms,
                             theta_a = -65 mV, sigma_a = 10 mV
      inactivation b:        b_inf = 1 / (1 + exp(-(v - theta_b)/sigma_b)),
                             theta_b = -100 mV, sigma_b = -10 mV
                             tau_b = 1 / (kt exp(gamma (v - theta_b)/sigma_b)
                                          + kt exp((gamma - 1)(v - theta_b)/sigma_b)) + tau0_b
                             (Borg-Graham form, kt = 0.006 /ms, gamma = 0.5, tau0_b = 1 ms:
                             tau_b is at most 84 ms, at -100 mV)
      g = gbar a^3 b,  ik = g (v - ek).

Temperature: no temperature factor in the published mechanism; celsius does not enter.
Reversal: ek is read from the k ion (UC6 uses NEURON's default, -77 mV).
ENDCOMMENT

NEURON {
    SUFFIX ca1_kd
    USEION k READ ek WRITE ik
    RANGE gbar, g
    RANGE ainf, binf, btau
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.001 (S/cm2)
    theta_a = -65 (mV)
    sigma_a = 10 (mV)
    tau_a = 2 (ms)
    theta_b = -100 (mV)
    sigma_b = -10 (mV)
    kt_b = 0.006 (/ms)
    gamma_b = 0.5
    tau0_b = 1 (ms)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    g (S/cm2)
    ainf
    binf
    btau (ms)
}

STATE { a b }

BREAKPOINT {
    SOLVE states METHOD cnexp
    g = gbar * a * a * a * b
    ik = g * (v - ek)
}

INITIAL {
    rates(v)
    a = ainf
    b = binf
}

DERIVATIVE states {
    rates(v)
    a' = (ainf - a) / tau_a
    b' = (binf - b) / btau
}

PROCEDURE rates(v (mV)) {
    LOCAL x
    TABLE ainf, binf, btau DEPEND theta_a, sigma_a, theta_b, sigma_b, kt_b, gamma_b, tau0_b FROM -100 TO 50 WITH 3000
    UNITSOFF
    ainf = 1 / (1 + exp(-(v - theta_a) / sigma_a))
    x = (v - theta_b) / sigma_b
    binf = 1 / (1 + exp(-x))
    btau = 1 / (kt_b * exp(gamma_b * x) + kt_b * exp((gamma_b - 1) * x)) + tau0_b
    UNITSON
}
