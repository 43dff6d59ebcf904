import warnings

# eventlet 0.41 announces its own deprecation on import; nameko 2.14 still needs it.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
