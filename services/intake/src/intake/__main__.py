from govmesh_runtime.serve import serve
from intake.bootstrap import create_app
from intake.settings import get_settings

serve(create_app, get_settings())
