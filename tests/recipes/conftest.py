from _tiny import CIFAR

if not CIFAR.is_dir():
    collect_ignore_glob = ["test_*.py"]
