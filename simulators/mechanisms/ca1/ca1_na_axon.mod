TITLE Transient Na current, CA1 pyramidal cell axon (Borg-Graham gates + slow inactivation)

COMMENT
Written for sbi_neuro (UC6, detailed CA1 pyramidal cell of the Neuroptimus suite).

Where the equations come from
  Gate formalism: L. J. Borg-Graham (1999) "Interpretations of data and mechanisms for
  hippocampal pyramidal cell models", in Cerebral Cortex vol. 13, Ulinski, Jones & Peters
  (eds.), Plenum: for each gate x with half-activation V0, slope k (mV), rate kt (1/ms),
  asymmetry gamma and minimal time constant tau0 (ms)
      x_inf = 1 / (1 + exp(-(v - V0)/k))
      tau_x = 1 / (kt exp(gamma (v - V0)/k) + kt exp((gamma - 1)(v - V0)/k)) + tau0
  Constants: the CA1 model that UC6 optimises (Kali lab; mechanism "Na_BG_axon" and the
  model's biophysics hoc file in the public KaliLab/optimizer repository, read for its
  numbers only):
      activation m, 3 gates: V0 = -33 mV (hoc value: 3 mV left of soma), k = 7 mV, kt = 20 /ms, gamma = 0.45,
                             tau0 = 0.02 ms
      inactivation h:        V0 = vhalf_m - shift, k = -2 mV, kt = 0.1 /ms, gamma = 0.2,
                             tau0 = 0.5 ms; "shift" is UC6 parameter 1
                             (Na activation-inactivation half-voltage difference, 5..15 mV),
                             set from Python through the GLOBAL vhalf_h.
      slow inactivation s (alpha/beta form of the same model, converted here from SI units
      to mV and ms):
          e     = exp((v + 30)/2)
          G     = 1e-3 (1 + exp(0.45 (v + 45))) / (5 exp(0.09 (v + 45)) + 0.002 exp(0.45 (v + 45)))  (1/ms)
          alpha = G (1 + sa e) / (1 + e)
          beta  = G (1 - sb) e / (1 + e)
          s_inf = alpha / (alpha + beta),  tau_s = 1 / (alpha + beta)
      soma and axon: sa = sb = 0.7, i.e. s_inf = (1 + 0.7 e)/(1 + e) falls from 1 at rest to
      0.7 when depolarised (tau_s about 2 ms at spike peaks, about 0.8 s at -65 mV).
  Conductance: g = gbar m^3 h s;  ina = g (v - ena).

Temperature: the published mechanism has no temperature factor (its temp_adj is 1), so
celsius does not enter; UC6 runs at celsius = 33 degC (model hoc file).
Reversal: ena is read from the na ion (UC6 uses NEURON's default, 50 mV).
Rate tables span -100..50 mV in 3000 steps as in the published mechanism; they are
rebuilt when a kinetic constant (GLOBAL) changes.
ENDCOMMENT

NEURON {
    SUFFIX ca1_na_axon
    USEION na READ ena WRITE ina
    RANGE gbar, g
    GLOBAL vhalf_m, vhalf_h, sa, sb
    RANGE minf, mtau, hinf, htau, sinf, stau
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.01 (S/cm2)
    vhalf_m = -33 (mV)
    k_m = 7 (mV)
    kt_m = 20 (/ms)
    gamma_m = 0.45
    tau0_m = 0.02 (ms)
    vhalf_h = -43 (mV)
    k_h = -2 (mV)
    kt_h = 0.1 (/ms)
    gamma_h = 0.2
    tau0_h = 0.5 (ms)
    sa = 0.7
    sb = 0.7
}

ASSIGNED {
    v (mV)
    ena (mV)
    ina (mA/cm2)
    g (S/cm2)
    minf
    mtau (ms)
    hinf
    htau (ms)
    sinf
    stau (ms)
}

STATE { m h s }

BREAKPOINT {
    SOLVE states METHOD cnexp
    g = gbar * m * m * m * h * s
    ina = g * (v - ena)
}

INITIAL {
    rates(v)
    m = minf
    h = hinf
    s = sinf
}

DERIVATIVE states {
    rates(v)
    m' = (minf - m) / mtau
    h' = (hinf - h) / htau
    s' = (sinf - s) / stau
}

PROCEDURE rates(v (mV)) {
    LOCAL x, e, G, a, b
    TABLE minf, mtau, hinf, htau, sinf, stau DEPEND vhalf_m, k_m, kt_m, gamma_m, tau0_m, vhalf_h, k_h, kt_h, gamma_h, tau0_h, sa, sb FROM -100 TO 50 WITH 3000
    UNITSOFF
    x = (v - vhalf_m) / k_m
    minf = 1 / (1 + exp(-x))
    mtau = 1 / (kt_m * exp(gamma_m * x) + kt_m * exp((gamma_m - 1) * x)) + tau0_m
    x = (v - vhalf_h) / k_h
    hinf = 1 / (1 + exp(-x))
    htau = 1 / (kt_h * exp(gamma_h * x) + kt_h * exp((gamma_h - 1) * x)) + tau0_h
    e = exp((v + 30) / 2)
    G = 1e-3 * (1 + exp(0.45 * (v + 45))) / (5 * exp(0.09 * (v + 45)) + 0.002 * exp(0.45 * (v + 45)))
    a = G * (1 + sa * e) / (1 + e)
    b = G * (1 - sb) * e / (1 + e)
    sinf = a / (a + b)
    stau = 1 / (a + b)
    UNITSON
}
