# Capacity trend of the monthly maintenance (capacity_trend over the dated daily reports).
# make test runs these tests within test-units/units and test-integration; test-capacity is the area alone.
.PHONY: test-capacity
test-capacity: venv collection
	cd $(ROOT) && python -m pytest -q -p no:cacheprovider tests/unit/plugins/plugin_utils/test_trend.py \
	  tests/integration/test_capacity_trend.py
