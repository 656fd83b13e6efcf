from mlsysim.cli import run

run()
